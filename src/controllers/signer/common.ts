// What both signers (PodCertificateRequests and CertificateSigningRequests) share: which binding a
// signerName names and whether it asked to be that signer, the metrics, and status conditions.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ValidBindingModel } from '../../crds/index.ts';
import type { OperatorContext } from '../context.ts';
import { SIGNER_PREFIX } from './pod-certificate.ts';

export type SignerKind = 'PodCertificateRequest' | 'CertificateSigningRequest';

/** The binding behind `machineidentity.io/<binding>` when it acts as that kind of signer; undefined when the name is not ours to serve. */
export function signerBinding(ctx: OperatorContext, signerName: string | undefined, kind: SignerKind): ValidBindingModel | undefined {
  if (!signerName?.startsWith(SIGNER_PREFIX)) return undefined;
  // the informer parsed it once per resourceVersion (a burst of requests all name the same binding)
  const parsed = ctx.informers.bindings.get(signerName.slice(SIGNER_PREFIX.length));
  if (!parsed?.spec) return undefined;
  const s = parsed.spec.signer;
  if (!s) return undefined;
  return (kind === 'PodCertificateRequest' ? s.podCertificates : s.certificateSigningRequests) ? parsed : undefined;
}

export interface SignerMetrics {
  requests: Counter<'signer' | 'kind' | 'result'>;
  /** From the request's creation to its answer being written. */
  latency: Histogram<'signer' | 'kind'>;
  /** The signing step alone. */
  signing: Histogram<'signer' | 'kind'>;
}

const memo = new WeakMap<Registry, SignerMetrics>();
export function signerMetrics(registry: Registry): SignerMetrics {
  let m = memo.get(registry);
  if (!m) {
    m = {
      requests: new Counter({ name: 'machine_identity_signer_requests_total', help: 'Requests answered as a Kubernetes signer', labelNames: ['signer', 'kind', 'result'] as const, registers: [registry] }),
      latency: new Histogram({ name: 'machine_identity_signer_request_duration_seconds', help: 'From a request\'s creation to its answer (Issued, Denied, Failed, or the CSR certificate)',
        labelNames: ['signer', 'kind'] as const, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300], registers: [registry] }),
      signing: new Histogram({ name: 'machine_identity_signer_signing_duration_seconds', help: 'Time spent deciding and signing one request',
        labelNames: ['signer', 'kind'] as const, buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registers: [registry] }),
    };
    memo.set(registry, m);
  }
  return m;
}

import { isoSeconds } from '../../issuers/in-cluster-ca.ts';
export { isoSeconds };

export function condition(type: string, reason: string, message: string, now: Date): { type: string; status: 'True'; reason: string; message: string; lastTransitionTime: string } {
  return { type, status: 'True', reason, message: message.slice(0, 32_000), lastTransitionTime: isoSeconds(now) };
}
