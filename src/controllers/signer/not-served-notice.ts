// When the API server serves no PodCertificateRequest API (Kubernetes 1.34 and older, or 1.35/1.36
// without the gate), a binding that asks for signer.podCertificates would sign nothing without a word:
// each such binding gets one Warning Event (per operator start and binding UID) saying so and what
// to turn on. The operator log and machine_identity_signer_api_info say it once for the whole cluster.
import { Controller } from '../../runtime/reconcile-loop.ts';
import type { OperatorContext } from '../context.ts';
import { validBinding } from '../binding-specs.ts';
import { recordEvent } from '../events.ts';
import { involved } from '../authority-binding/trust-bundle-configmaps.ts';
import { SignerReason } from '../../crds/reasons.ts';

const NOT_SERVED_MESSAGE =
  'signer.podCertificates is set, but this API server serves PodCertificateRequests in neither certificates.k8s.io/v1 (Kubernetes 1.37) ' +
  'nor v1beta1 (1.35/1.36 with --feature-gates=PodCertificateRequest=true and --runtime-config=certificates.k8s.io/v1beta1=true): ' +
  'no pod certificate is signed. CertificateSigningRequests are still signed when signer.certificateSigningRequests is set.';

export function podCertificatesNotServedNotice(ctx: OperatorContext): Controller {
  const told = new Set<string>();
  const c = new Controller({
    name: 'pod-certificates-not-served',
    logger: ctx.log,
    registry: ctx.registry,
    workers: 1,
    informers: [ctx.informers.bindings],
    reconcile: async (name) => {
      const b = validBinding(ctx, name);
      if (!b?.spec.signer?.podCertificates) return;
      const once = `${name}/${b.metadata.uid ?? ''}`;
      if (told.has(once)) return;
      told.add(once);
      await recordEvent(ctx, involved(b), 'Warning', SignerReason.PodCertificatesNotServed, NOT_SERVED_MESSAGE);
    },
  });
  const enqueue = (b: { metadata?: { name?: string } }): void => {
    if (b.metadata?.name) c.queue.add(b.metadata.name);
  };
  ctx.informers.bindings.onAdd(enqueue).onUpdate((_o, b) => enqueue(b));
  return c;
}
