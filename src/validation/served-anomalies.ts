// Probe-side anomalies, pure: what one endpoint served, judged against what the inventory knows.
// UnknownCertificate (the leaf is in no Secret, ConfigMap or caBundle the inventory read),
// UnknownAuthority (neither a known self-signed certificate nor issued by a known CA), NameMismatch
// (the certificate does not cover the SNI it was reached by) and WeakTLS (an old protocol or a weak cipher).
import type { KnownCa } from '../inventory/model.ts';
import type { AnomalyFinding } from './anomaly-finding.ts';
import type { EndpointAddress, ProbeResult, ServeTarget, ServedCert } from './types.ts';

export interface KnownCertificates {
  /** fingerprintSHA256 of every certificate the inventory found. */
  fingerprints: ReadonlySet<string>;
  /** CAs of the bindings and trust bundles the operator knows. */
  cas: readonly KnownCa[];
}

type OkProbe = Extract<ProbeResult, { ok: true }>;

const WEAK_PROTOCOLS: ReadonlySet<string> = new Set(['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1']);
/** Tokens of OpenSSL and IANA cipher names that make a suite weak. */
const WEAK_CIPHER_TOKENS: ReadonlySet<string> = new Set([
  'RC4',
  'RC2',
  '3DES',
  'DES',
  'CBC3',
  'NULL',
  'EXP',
  'EXPORT',
  'EXPORT1024',
  'ANON',
  'ADH',
  'AECDH',
]);

/** Why a protocol/cipher pair is weak, or undefined. */
export function weakTls(protocol: string, cipher: string): string | undefined {
  const why: string[] = [];
  if (WEAK_PROTOCOLS.has(protocol)) why.push(`protocol ${protocol}`);
  const tokens = cipher.toUpperCase().split(/[-_]/);
  if (tokens.some((t) => WEAK_CIPHER_TOKENS.has(t))) why.push(`cipher ${cipher}`);
  return why.length ? why.join(' and ') : undefined;
}

const lower = (s: string): string => s.toLowerCase().replace(/\.$/, '');

/** A DNS SAN covers `host`: equal (case-insensitive), or a `*.` wildcard for exactly one leftmost label. */
export function dnsNameCovers(pattern: string, host: string): boolean {
  const p = lower(pattern),
    h = lower(host);
  if (!p.startsWith('*.')) return p === h;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2) && p.slice(2).includes('.');
}

/** The certificate covers the SNI: a DNS SAN (wildcards too) or, for an IP literal, an IP SAN. */
export function coversName(c: Pick<ServedCert, 'dnsNames' | 'ipAddresses'>, sni: string): boolean {
  if (/^[0-9.]+$/.test(sni) || sni.includes(':')) return c.ipAddresses.some((ip) => ip.toLowerCase() === lower(sni));
  return c.dnsNames.some((d) => dnsNameCovers(d, sni));
}

/**
 * The known CA that issued `c`: by key identifier when both sides have one (a CA with the same name but
 * another key is not it: a name is easy to copy), by name otherwise.
 */
function caOf(c: ServedCert, cas: readonly KnownCa[]): KnownCa | undefined {
  return cas.find((k) =>
    c.authorityKeyId && k.subjectKeyId ? k.subjectKeyId === c.authorityKeyId : k.subjectDN === c.issuerDN,
  );
}

/** The CA the served leaf chains to through the presented chain (matched by key identifier, then DN), if known. */
export function knownAuthority(r: OkProbe, known: KnownCertificates): string | undefined {
  const asCa = known.cas.find((k) => k.fingerprintSHA256 === r.leaf.fingerprintSHA256);
  if (asCa) return asCa.authority;
  if (r.leaf.selfSigned) return known.fingerprints.has(r.leaf.fingerprintSHA256) ? 'self-signed' : undefined;
  // a presented intermediate that a known CA issued makes what it issued known too (bounded by the chain length)
  const cas: KnownCa[] = [...known.cas];
  for (let pass = 0; pass <= r.chain.length; pass++) {
    const hit = caOf(r.leaf, cas);
    if (hit) return hit.authority;
    let added = false;
    for (const c of r.chain) {
      const parent = c.isCA ? caOf(c, cas) : undefined;
      if (!parent || cas.some((k) => k.fingerprintSHA256 === c.fingerprintSHA256)) continue;
      cas.push({
        authority: parent.authority,
        subjectDN: c.subjectDN,
        fingerprintSHA256: c.fingerprintSHA256,
        ...(c.subjectKeyId ? { subjectKeyId: c.subjectKeyId } : {}),
      });
      added = true;
    }
    if (!added) return undefined;
  }
  return undefined;
}

/** The object a target's findings are about (a Gateway listener `gw#listener` is its Gateway). */
function about(t: ServeTarget): Pick<AnomalyFinding, 'namespace' | 'kind' | 'name'> {
  return { namespace: t.namespace, kind: t.source, name: t.name.split('#')[0] ?? t.name };
}

/** The anomalies one successful probe of `address` for `target` shows. */
export function servedAnomalies(
  target: ServeTarget,
  address: Pick<EndpointAddress, 'ip' | 'port'>,
  r: OkProbe,
  known: KnownCertificates,
): AnomalyFinding[] {
  const obj = about(target);
  const at = `${target.source} ${target.namespace ? `${target.namespace}/` : ''}${target.name} at ${address.ip}:${address.port}${target.sni ? ` (SNI ${target.sni})` : ''}`;
  const leaf = `serial ${r.leaf.serialNumber} (${r.leaf.subjectDN || 'no subject'})`;
  const out: AnomalyFinding[] = [];
  const add = (anomaly: AnomalyFinding['anomaly'], message: string): void => {
    out.push({ anomaly, ...obj, message });
  };
  if (!known.fingerprints.has(r.leaf.fingerprintSHA256))
    add('UnknownCertificate', `${at} serves ${leaf}, a certificate in no Secret or ConfigMap the inventory knows`);
  if (!knownAuthority(r, known))
    add(
      'UnknownAuthority',
      `${at} serves ${leaf} issued by ${r.leaf.issuerDN || 'an unnamed issuer'}, a CA no binding or trust bundle knows`,
    );
  if (target.sni && !coversName(r.leaf, target.sni))
    add('NameMismatch', `${at} serves ${leaf}, which does not cover ${target.sni}`);
  const weak = weakTls(r.protocol, r.cipher);
  if (weak) add('WeakTLS', `${at} negotiated ${weak}`);
  return out;
}
