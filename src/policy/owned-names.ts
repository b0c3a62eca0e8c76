// The names a namespace owns without any grant: its Services' and pods' DNS names and its
// ServiceAccounts' SPIFFE IDs, never the API server's own names or loopback. Pure.
import type { UriParts } from './patterns.ts';

/** Names no namespace owns, whatever its name (the API server's own names, loopback). */
export function reserved(labels: readonly string[], clusterDomain: readonly string[]): boolean {
  const name = labels.join('.');
  if (name === 'localhost' || name.endsWith('.localhost') || name === 'kubernetes' || name === 'kubernetes.default')
    return true;
  return (
    labels[0] === 'kubernetes' &&
    labels[1] === 'default' &&
    labels[2] === 'svc' &&
    (labels.length === 3 || sameLabels(labels.slice(3), clusterDomain))
  );
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

/**
 * `<svc>.<ns>.svc`, `<svc>.<ns>.svc.<cd>`, `<host>.<subdomain>.<ns>.svc.<cd>` (pods behind a headless
 * Service) and `<a-b-c-d>.<ns>.pod.<cd>` (pod A records). Labels are normalised (dnsNameLabels); the
 * first may be `*` (the caller decides whether wildcards are allowed).
 */
export function ownsDnsLabels(labels: readonly string[], namespace: string, clusterDomain: readonly string[]): boolean {
  if (labels.slice(1).includes('*')) return false;
  const n = labels.length,
    cd = clusterDomain.length;
  if (n === 3) return labels[1] === namespace && labels[2] === 'svc';
  const tail = labels.slice(n - cd);
  if (!sameLabels(tail, clusterDomain)) return false;
  const head = labels.slice(0, n - cd);
  if (head.length === 3) return head[1] === namespace && (head[2] === 'svc' || head[2] === 'pod');
  if (head.length === 4) return head[2] === namespace && head[3] === 'svc';
  return false;
}

const SA_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `spiffe://<trustDomain>/ns/<namespace>/sa/<service account>` exactly. */
export function ownsUri(uri: UriParts, namespace: string, trustDomain: string): boolean {
  const s = uri.segments;
  return (
    uri.scheme === 'spiffe' &&
    uri.tail === '' &&
    uri.authority?.length === 1 &&
    uri.authority[0] === trustDomain &&
    s.length === 5 &&
    s[0] === '' &&
    s[1] === 'ns' &&
    s[2] === namespace &&
    s[3] === 'sa' &&
    isServiceAccountName(s[4] ?? '')
  );
}

function isServiceAccountName(name: string): boolean {
  return name.length <= 253 && SA_NAME.test(name);
}
