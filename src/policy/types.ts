// Typed inputs and outputs of the IssuancePolicy engine. Pure data: no Kubernetes I/O.
import type { CertFacts } from '../pki/certs.ts';
import type { SanLists } from '../pki/names.ts';
import type { MachineIdentitySpec } from '../crds/machine-identity.ts';
import { KEY_SIZES } from '../crds/machine-identity.ts';
import { parseDuration } from '../crds/common.ts';

export type Enforcement = 'Enforce' | 'Audit';
export type DefaultAction = 'Allow' | 'Deny';

interface SubjectView {
  commonName?: string;
  organizations: string[];
}

interface KeyView {
  /** ECDSA, RSA, Ed25519 (discovered certificates may also show RSASSA-PSS, Ed448, ...). */
  algorithm: string;
  /** RSA modulus bits or ECDSA curve size; unset for Ed25519. */
  size?: number;
}

/** The SAN lists, subject, key and lifetime that both requests and discovered certificates carry. */
export interface CertificateShape extends SanLists {
  namespace: string;
  subject: SubjectView;
  usages: string[];
  isCA: boolean;
  key: KeyView;
}

/** What a MachineIdentity asks for, as the policy engine sees it. */
export interface IdentityRequest extends CertificateShape {
  name: string;
  labels: Record<string, string>;
  /** Name of the CertificateAuthorityBinding (spec.authorityRef.name). */
  authority: string;
  /** Requested lifetime in milliseconds. */
  durationMs: number;
  ownerTeam?: string;
}

/** A certificate found in the cluster (Secret, ConfigMap, webhook or APIService caBundle). */
export interface DiscoveredCertificate extends CertificateShape {
  /** Kind of the object that holds it: Secret, ConfigMap, ValidatingWebhookConfiguration, ... */
  kind: string;
  name: string;
  /** Data key (tls.crt, ca.crt, ...) or webhook name; the key algorithm and size are in `key`. */
  dataKey: string;
  /** Labels of the object that holds it (matched by identitySelector). */
  labels: Record<string, string>;
  /** Set when the certificate belongs to a managed identity (matched by selector.authorities). */
  authority?: string;
  /** ECDSAWithSHA256, SHA256WithRSA, Ed25519, SHA1WithRSA, ... (or a dotted OID). */
  signatureAlgorithm: string;
  selfSigned: boolean;
  /** notAfter − notBefore in milliseconds. */
  lifetimeMs: number;
  issuer: string;
}

export interface Violation {
  policy: string;
  enforcement: Enforcement;
  /** The rule's path in spec.rules, e.g. 'dnsNames.allowed'. */
  rule: string;
  /** The offending field of the request, e.g. 'dnsNames[1]'. */
  field: string;
  /** The offending value, verbatim (quote it before showing it). */
  value: string;
  /** `<field> "<value>" <why>`, values JSON-quoted. */
  message: string;
}

export interface Verdict {
  allowed: boolean;
  /** True when no selected policy reports any violation (Enforce or Audit). */
  compliant: boolean;
  matchedPolicies: string[];
  violations: Violation[];
  /** Violations of Enforce policies (they deny issuance). */
  denied: Violation[];
  /** Violations of Audit policies (reported only). */
  audited: Violation[];
  /** Set when no Enforce policy selected the request, so the default action decided. */
  defaultApplied?: DefaultAction;
  /** Why the request was denied when no violation explains it (the Deny default). */
  reason?: string;
}

interface ObjectMetaLike {
  name?: string;
  namespace?: string;
  labels?: Record<string, string> | null;
}

/** The ECDSA curve of a key size (the size a KeyView carries for an ECDSA key). */
export const ECDSA_CURVE_OF_SIZE: Readonly<Record<number, string>> = { 256: 'P-256', 384: 'P-384', 521: 'P-521' };

/** The RSA/ECDSA key size an unset `size` means (see KEY_SIZES). */
function defaultKeySize(algorithm: string, size: number | undefined): number | undefined {
  if (size !== undefined) return size;
  return (KEY_SIZES as Record<string, readonly number[] | undefined>)[algorithm]?.[0];
}

function sanLists(s: MachineIdentitySpec): SanLists {
  return {
    dnsNames: [...(s.dnsNames ?? [])],
    ipAddresses: [...(s.ipAddresses ?? [])],
    uris: [...(s.uris ?? [])],
    emailAddresses: [...(s.emailAddresses ?? [])],
  };
}

function keyView(s: MachineIdentitySpec): KeyView {
  const algorithm = s.privateKey?.algorithm ?? 'ECDSA';
  const size = defaultKeySize(algorithm, s.privateKey?.size);
  return size === undefined ? { algorithm } : { algorithm, size };
}

function subjectView(s: MachineIdentitySpec): SubjectView {
  const subject: SubjectView = { organizations: [...(s.subject?.organizations ?? [])] };
  if (s.subject?.commonName !== undefined) subject.commonName = s.subject.commonName;
  return subject;
}

/** Adapter from a (zod-parsed, defaults applied) MachineIdentity. */
export function requestFromMachineIdentity(mi: {
  metadata: ObjectMetaLike;
  spec: MachineIdentitySpec;
}): IdentityRequest {
  const { metadata: m, spec: s } = mi;
  const req: IdentityRequest = {
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    labels: { ...(m.labels ?? {}) },
    authority: s.authorityRef.name,
    subject: subjectView(s),
    ...sanLists(s),
    usages: [...(s.usages ?? ['serverAuth'])],
    isCA: s.isCA ?? false,
    key: keyView(s),
    // An unparsable duration becomes +Infinity so that a maxDuration rule fails closed.
    durationMs: parseDuration(s.duration ?? '2160h') ?? Number.POSITIVE_INFINITY,
  };
  if (s.owner?.team !== undefined) req.ownerTeam = s.owner.team;
  return req;
}

export interface CertificateLocation {
  namespace: string;
  kind: string;
  name: string;
  dataKey: string;
  labels?: Record<string, string>;
  authority?: string;
}

/** Adapter from the facts of a parsed certificate plus where it was found. */
export function certificateFromFacts(
  facts: Omit<CertFacts, 'publicKey'>,
  where: CertificateLocation,
): DiscoveredCertificate {
  const subject: SubjectView = { organizations: organizationsOf(facts.subjectDN) };
  if (facts.commonName !== undefined) subject.commonName = facts.commonName;
  const cert: DiscoveredCertificate = {
    namespace: where.namespace,
    kind: where.kind,
    name: where.name,
    dataKey: where.dataKey,
    labels: { ...(where.labels ?? {}) },
    subject,
    dnsNames: [...facts.dnsNames],
    ipAddresses: [...facts.ipAddresses],
    uris: [...facts.uris],
    emailAddresses: [...facts.emailAddresses],
    usages: [...new Set([...facts.keyUsage, ...facts.extKeyUsage])],
    isCA: facts.isCA,
    key:
      facts.keySize === undefined
        ? { algorithm: facts.keyAlgorithm }
        : { algorithm: facts.keyAlgorithm, size: facts.keySize },
    signatureAlgorithm: facts.signatureAlgorithm,
    selfSigned: facts.selfSigned,
    lifetimeMs: facts.notAfter.getTime() - facts.notBefore.getTime(),
    issuer: facts.issuerDN,
  };
  if (where.authority !== undefined) cert.authority = where.authority;
  return cert;
}

/**
 * The O attributes of an RFC 4514 DN string (`CN=api,O=Example\, Inc.,C=DE`), unescaped. Splits on
 * unescaped `,` and `+`; hex-escaped values (`O=#0c03...`) are kept as written.
 */
export function organizationsOf(dn: string): string[] {
  return splitRdnAttributes(dn).flatMap((attr) => {
    const eq = attr.indexOf('=');
    return eq > 0 && attr.slice(0, eq).trim().toUpperCase() === 'O' ? [unescapeDn(attr.slice(eq + 1))] : [];
  });
}

/** The `type=value` attributes of a DN string, split on unescaped `,` and `+` (escapes kept). */
function splitRdnAttributes(dn: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < dn.length; i++) {
    const c = dn.charAt(i);
    if (c === '\\' && i + 1 < dn.length) {
      cur += c + dn.charAt(++i);
    } else if (c === ',' || c === '+') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

function unescapeDn(v: string): string {
  return v.replace(/\\([0-9A-Fa-f]{2}|.)/g, (_m, g: string) =>
    g.length === 2 ? String.fromCharCode(parseInt(g, 16)) : g,
  );
}
