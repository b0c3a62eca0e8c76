// Says which certificates.k8s.io version the signer uses, so a cluster that serves neither is
// reported, not silent: a gauge (machine_identity_signer_api_info{resource, version="none"} 1) always,
// and one log line per change (a Warning with what to turn on when the API is not served).
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { gauge } from '../../runtime/metric-registry.ts';
import type { CertificatesResource, CertificatesVersion } from './certificates-api.ts';

const HOW_TO_SERVE: Record<CertificatesResource, string> = {
  podcertificaterequests:
    'pod certificates are off: Kubernetes 1.37 serves certificates.k8s.io/v1; 1.35 and 1.36 need --feature-gates=PodCertificateRequest=true and --runtime-config=certificates.k8s.io/v1beta1=true on the API server',
  clustertrustbundles:
    'no ClusterTrustBundle is published: Kubernetes 1.37 serves certificates.k8s.io/v1; 1.33 to 1.36 need --feature-gates=ClusterTrustBundle=true and --runtime-config=certificates.k8s.io/v1beta1=true on the API server',
};

/** The log line for a resource's version, or undefined when it did not change since the last one. */
export function servedMessage(
  resource: CertificatesResource,
  version: CertificatesVersion | undefined,
  previous: CertificatesVersion | 'none' | undefined,
): { level: 'info' | 'warn'; message: string } | undefined {
  if ((version ?? 'none') === previous) return undefined;
  if (version) return { level: 'info', message: `${resource}: using certificates.k8s.io/${version}` };
  return { level: 'warn', message: `${resource} are not served by this API server; ${HOW_TO_SERVE[resource]}` };
}

const last = new WeakMap<Registry, Map<CertificatesResource, CertificatesVersion | 'none'>>();

export function reportServed(
  ctx: { registry: Registry; log: Logger },
  resource: CertificatesResource,
  version: CertificatesVersion | undefined,
): void {
  const seen = last.get(ctx.registry) ?? new Map<CertificatesResource, CertificatesVersion | 'none'>();
  last.set(ctx.registry, seen);
  const line = servedMessage(resource, version, seen.get(resource));
  seen.set(resource, version ?? 'none');
  const g = gauge(
    ctx.registry,
    'machine_identity_signer_api_info',
    'The certificates.k8s.io version the signer uses per resource (1), or version="none" when the API server serves neither v1 nor v1beta1',
    ['resource', 'version'],
  );
  for (const v of ['v1', 'v1beta1', 'none'] as const)
    g.set({ resource, version: v }, v === (version ?? 'none') ? 1 : 0);
  if (line) ctx.log[line.level]({ resource, version: version ?? 'none' }, line.message);
}
