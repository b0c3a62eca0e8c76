// Reconciler: one ClusterTrustBundle per signer binding (`machineidentity.io:<binding>:ca`, linked to
// signerName machineidentity.io/<binding>), holding the CA the signer issues from, so pods can project
// the trust anchors with a clusterTrustBundle volume source. Removed when the binding stops signing.
import { Controller } from '../../runtime/reconcile-loop.ts';
import { apiServes, sendRaw } from '../../runtime/kube.ts';
import type { OperatorContext } from '../context.ts';
import { validBinding } from '../binding-specs.ts';
import { isSigner } from './common.ts';
import { SIGNER_PREFIX } from './pod-certificate.ts';

export const CTB_PATH = '/apis/certificates.k8s.io/v1beta1/clustertrustbundles';
export const bundleName = (binding: string): string => `machineidentity.io:${binding}:ca`;

export function trustBundlesServed(ctx: Pick<OperatorContext, 'kc'>): Promise<boolean> {
  return apiServes(ctx.kc, '/apis/certificates.k8s.io/v1beta1', 'clustertrustbundles');
}

export function trustBundleController(ctx: OperatorContext): Controller {
  const c = new Controller({
    name: 'signer-trust-bundles',
    logger: ctx.log,
    registry: ctx.registry,
    workers: 1,
    informers: [ctx.informers.bindings],
    reconcile: (binding) => syncTrustBundle(ctx, binding),
  });
  const enqueue = (b: { metadata?: { name?: string } }): void => {
    if (b.metadata?.name) c.queue.add(b.metadata.name);
  };
  ctx.informers.bindings
    .onAdd(enqueue)
    .onUpdate((_o, b) => enqueue(b))
    .onDelete(enqueue);
  ctx.issuers.onChange((b) => c.queue.add(b));
  return c;
}

/** The binding's ClusterTrustBundle: applied while it signs and its issuer is loaded, deleted when it stops signing. */
async function syncTrustBundle(ctx: OperatorContext, binding: string): Promise<{ requeueAfterMs: number } | undefined> {
  const path = `${CTB_PATH}/${encodeURIComponent(bundleName(binding))}`;
  if (!isSigner(validBinding(ctx, binding)?.spec.signer)) {
    const res = await sendRaw(ctx.kc, 'DELETE', path, '', 'application/json').catch(() => undefined);
    if (res && res.status >= 500) throw new Error(`delete ClusterTrustBundle: HTTP ${res.status}`);
    return undefined;
  }
  // the binding's published bundle: during a CA change it carries the previous CAs too
  const entry = ctx.issuers.get(binding);
  const pem = entry?.trustBundlePem ?? entry?.health.caBundlePem;
  if (!pem) return { requeueAfterMs: 5000 };
  const res = await sendRaw(
    ctx.kc,
    'PATCH',
    `${path}?fieldManager=mio-signer&force=true`,
    JSON.stringify(clusterTrustBundle(binding, pem)),
    'application/apply-patch+yaml',
  );
  if (res.status < 200 || res.status >= 300)
    throw new Error(`apply ClusterTrustBundle ${bundleName(binding)}: HTTP ${res.status}: ${res.text.slice(0, 300)}`);
  return undefined;
}

function clusterTrustBundle(binding: string, pem: string): object {
  return {
    apiVersion: 'certificates.k8s.io/v1beta1',
    kind: 'ClusterTrustBundle',
    metadata: {
      name: bundleName(binding),
      labels: { 'app.kubernetes.io/managed-by': 'machine-identity-operator', 'machineidentity.io/binding': binding },
    },
    spec: { signerName: `${SIGNER_PREFIX}${binding}`, trustBundle: pem },
  };
}
