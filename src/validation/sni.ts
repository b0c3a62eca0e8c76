// Which server name the prober sends. A server that picks its certificate by SNI (ingress and gateway
// controllers, multi-tenant proxies) must be asked for a name the certificate covers, or it answers
// with its default certificate and the probe proves nothing.

/** Does the certificate name `pattern` (a DNS SAN, maybe `*.` wildcard of one label) cover `host`? */
export function covers(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase(),
    h = host.toLowerCase();
  if (!p.startsWith('*.')) return p === h;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot) === p.slice(1);
}

const concrete = (n: string): boolean => n !== '' && !n.includes('*');

/**
 * For a Service (or a webhook's Service): the identity's first DNS name; when that is a wildcard, the
 * Service's own name if the certificate covers it (`<svc>.<ns>.svc`, then with the cluster domain),
 * else the first name that is not a wildcard; '' (no SNI) for an IP-only certificate.
 */
export function serviceSni(
  dnsNames: readonly string[],
  svc: { namespace: string; name: string },
  clusterDomain: string,
): string {
  const first = dnsNames[0];
  if (first === undefined || concrete(first)) return first ?? '';
  const short = `${svc.name}.${svc.namespace}.svc`;
  for (const candidate of [short, `${short}.${clusterDomain}`])
    if (dnsNames.some((n) => covers(n, candidate))) return candidate;
  return dnsNames.find(concrete) ?? '';
}

/** A placeholder label under a wildcard that every name of the certificate is a wildcard for. */
const PROBE_LABEL = 'machineidentity-probe';

/**
 * For an Ingress host or a Gateway listener hostname: the host itself; for a wildcard host, the
 * identity's first DNS name under it (or, when the certificate itself is a wildcard there, a
 * placeholder name under it, which the listener and the certificate both cover); undefined when the
 * certificate covers nothing under it (the listener cannot serve it). A Gateway listener's wildcard is a
 * suffix match (`*.example.com` matches `a.b.example.com`, Gateway API); an Ingress host's is one label.
 */
export function hostSni(host: string, dnsNames: readonly string[], suffixMatch: boolean): string | undefined {
  if (!host.startsWith('*.')) return host;
  const suffix = host.slice(1).toLowerCase();
  const isUnder = (n: string): boolean => (suffixMatch ? n.toLowerCase().endsWith(suffix) : covers(host, n));
  const under = dnsNames.find((n) => concrete(n) && isUnder(n));
  if (under) return under;
  const candidate = `${PROBE_LABEL}${host.slice(1)}`;
  return dnsNames.some((n) => covers(n, candidate)) ? candidate : undefined;
}
