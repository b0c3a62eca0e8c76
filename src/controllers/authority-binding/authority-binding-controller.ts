// Controller: CertificateAuthorityBinding → a live Issuer in ctx.issuers, status Ready / caFingerprintSHA256
// / caNotAfter / backend, the generated CA Secret (spec.ca.generate) and the trust bundle ConfigMaps
// (binding-reconciler.ts). This file only says what wakes a binding up.
import { isDeepStrictEqual } from 'node:util';
import type * as k8s from '@kubernetes/client-node';
import { Controller } from '../../runtime/reconcile-loop.ts';
import { bindingFields, identityFields } from '../../crds/index.ts';
import type { OperatorContext } from '../context.ts';
import { TrustBundles } from './trust-bundle-configmaps.ts';
import { BindingReconciler } from './binding-reconciler.ts';
import { FIELD_MANAGER } from './ca-generation.ts';
import { secretNames } from './secret-refs.ts';

/** Runs the trust-bundle ConfigMap informer along with the controller. */
class AuthorityBindingController extends Controller {
  private readonly trust: TrustBundles;
  constructor(opts: ConstructorParameters<typeof Controller>[0], trust: TrustBundles) {
    super(opts);
    this.trust = trust;
  }
  override async start(): Promise<void> {
    this.trust.informer.start();
    await super.start();
  }
  override async stop(): Promise<void> {
    await super.stop();
    await this.trust.informer.stop();
  }
}

export function authorityBindingController(ctx: OperatorContext): Controller {
  const { bindings, namespaces, operatorSecrets } = ctx.informers;
  const trust = new TrustBundles(ctx, FIELD_MANAGER);
  const r = new BindingReconciler(ctx, trust);
  const c = new AuthorityBindingController(
    {
      name: 'authority-binding',
      logger: ctx.log,
      registry: ctx.registry,
      workers: 2,
      informers: [bindings, namespaces, operatorSecrets, trust.informer],
      reconcile: (name, { log }) => r.reconcile(name, log),
    },
    trust,
  );
  const enqueue = (name: string | undefined): void => {
    if (name) c.queue.add(name);
  };
  bindings
    .onAdd((b) => enqueue(b.metadata.name))
    .onUpdate((_o, b) => enqueue(b.metadata.name))
    .onDelete((b) => enqueue(b.metadata.name));
  // a CA Secret or a referenced auth key changed
  const bySecret = (s: k8s.V1Secret): void => {
    for (const b of bindings.list())
      if (secretNames(bindingFields(b)).includes(s.metadata?.name ?? '')) enqueue(b.metadata.name);
  };
  operatorSecrets
    .onAdd(bySecret)
    .onUpdate((_o, s) => bySecret(s))
    .onDelete(bySecret);
  // the namespaces a trust bundle goes to changed
  const withTrustBundle = (): void => {
    for (const b of bindings.list()) if (bindingFields(b).trustBundle) enqueue(b.metadata.name);
  };
  const namespaceMoved = (o: k8s.V1Namespace, n: k8s.V1Namespace): boolean =>
    !isDeepStrictEqual(o.metadata?.labels, n.metadata?.labels) || o.status?.phase !== n.status?.phase;
  namespaces
    .onAdd(withTrustBundle)
    .onDelete(withTrustBundle)
    .onUpdate((o, n) => {
      if (namespaceMoved(o, n)) withTrustBundle();
    });
  trust.informer
    .onUpdate((_o, cm) => enqueue(TrustBundles.bindingOf(cm)))
    .onDelete((cm) => enqueue(TrustBundles.bindingOf(cm)));
  // a previous CA leaves the bundles once no identity holds a certificate from it: follow their progress (batched)
  const holderChanged = (name: string | undefined): void => {
    if (name && (bindings.get(name)?.status?.previousCAs?.length ?? 0) > 0) c.queue.addAfter(name, 1000);
  };
  ctx.informers.identities
    .onDelete((mi) => holderChanged(identityFields(mi).authorityRef?.name))
    .onUpdate((o, n) => {
      if (o.status?.authorityFingerprintSHA256 !== n.status?.authorityFingerprintSHA256)
        holderChanged(identityFields(n).authorityRef?.name);
    });
  return c;
}
