// What both signers (PodCertificateRequests and CertificateSigningRequests) share: which binding a
// signerName names and whether it asked to be that signer, the metrics, and status conditions.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ResolvedBindingSpec, ValidBindingModel } from '../../crds/index.ts';
import type { OperatorContext } from '../context.ts';
import { validBinding } from '../binding-specs.ts';
import { isoSeconds } from '../../issuers/in-cluster-ca.ts';
import { SIGNER_PREFIX } from './pod-certificate.ts';

export type SignerKind = 'PodCertificateRequest' | 'CertificateSigningRequest';
type SignerSpec = ResolvedBindingSpec['signer'];

/** The binding asked to sign that kind of request. */
function signsFor(s: SignerSpec, kind: SignerKind): boolean {
  return Boolean(kind === 'PodCertificateRequest' ? s?.podCertificates : s?.certificateSigningRequests);
}

/** The binding acts as a Kubernetes signer at all (and so has a ClusterTrustBundle). */
export function isSigner(s: SignerSpec): boolean {
  return signsFor(s, 'PodCertificateRequest') || signsFor(s, 'CertificateSigningRequest');
}

/** The binding behind `machineidentity.io/<binding>` when it acts as that kind of signer; undefined when the name is not ours to serve. */
export function signerBinding(
  ctx: OperatorContext,
  signerName: string | undefined,
  kind: SignerKind,
): ValidBindingModel | undefined {
  if (!signerName?.startsWith(SIGNER_PREFIX)) return undefined;
  // the informer parsed it once per resourceVersion (a burst of requests all name the same binding)
  const b = validBinding(ctx, signerName.slice(SIGNER_PREFIX.length));
  return b && signsFor(b.spec.signer, kind) ? b : undefined;
}

export interface SignerMetrics {
  requests: Counter<'signer' | 'kind' | 'result'>;
  /** From the request's creation to its answer being written. */
  latency: Histogram<'signer' | 'kind'>;
  /** The signing step alone. */
  signing: Histogram<'signer' | 'kind'>;
}

/** Counts an answered request, the time spent signing it and the time since it was created. */
export function observeAnswer(
  m: SignerMetrics,
  labels: { signer: string; kind: SignerKind },
  result: string,
  started: number,
  creationTimestamp: unknown,
): void {
  m.requests.inc({ ...labels, result });
  m.signing.observe(labels, (performance.now() - started) / 1000);
  const created = Date.parse(String(creationTimestamp ?? ''));
  if (!Number.isNaN(created)) m.latency.observe(labels, Math.max(0, Date.now() - created) / 1000);
}

const memo = new WeakMap<Registry, SignerMetrics>();
export function signerMetrics(registry: Registry): SignerMetrics {
  let m = memo.get(registry);
  if (!m) {
    m = {
      requests: new Counter({
        name: 'machine_identity_signer_requests_total',
        help: 'Requests answered as a Kubernetes signer',
        labelNames: ['signer', 'kind', 'result'] as const,
        registers: [registry],
      }),
      latency: new Histogram({
        name: 'machine_identity_signer_request_duration_seconds',
        help: "From a request's creation to its answer (Issued, Denied, Failed, or the CSR certificate)",
        labelNames: ['signer', 'kind'] as const,
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
        registers: [registry],
      }),
      signing: new Histogram({
        name: 'machine_identity_signer_signing_duration_seconds',
        help: 'Time spent deciding and signing one request',
        labelNames: ['signer', 'kind'] as const,
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
        registers: [registry],
      }),
    };
    memo.set(registry, m);
  }
  return m;
}

export function condition(
  type: string,
  reason: string,
  message: string,
  now: Date,
): { type: string; status: 'True'; reason: string; message: string; lastTransitionTime: string } {
  return { type, status: 'True', reason, message: message.slice(0, 32_000), lastTransitionTime: isoSeconds(now) };
}
