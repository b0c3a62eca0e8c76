// Safe defaults that hold with no IssuancePolicy at all: a namespace gets only the names it owns,
// no CA certificate, and no lifetime beyond the binding's cap, unless the security team grants more
// on the CertificateAuthorityBinding (spec.grants). Every requester goes through this: a
// MachineIdentity (controller, admission webhook, `kubectl mi policy check`), a PodCertificateRequest
// and a CertificateSigningRequest. Pure: the caller supplies the binding and the namespace's labels.
// The design and its reasons are in docs/security.md ("What a namespace owns").
import { OwnershipRule } from '../crds/reasons.ts';
import type { CertificateAuthorityBindingSpec } from '../crds/certificate-authority-binding.ts';
import { parseDuration } from '../crds/common.ts';
import { durationConstant } from './duration-constant.ts';
import { quote } from './findings.ts';
import { grantsFor, type CompiledGrant } from './grants.ts';
import { ipInCidr, parseIp } from './ip-ranges.ts';
import { ownsDnsLabels, ownsUri, reserved } from './owned-names.ts';
import { dnsNameLabels, matchDnsLabels, matchesEmailPattern, matchUriParts, parseUri } from './patterns.ts';
import type { CertificateShape } from './types.ts';

/** The lifetime cap of a binding that sets no maxDuration: 90 days, the default lifetime of an identity. */
const DEFAULT_LIFETIME_CAP = '2160h';
const DEFAULT_CAP_MS = durationConstant(DEFAULT_LIFETIME_CAP);
const DEFAULT_TRUST_DOMAIN = 'cluster.local';

/** Whose names apply: the MachineIdentity's namespace, the pod's, the requesting ServiceAccount's, or the namespace a listed CSR requester is mapped to. */
export interface OwnershipScope {
  namespace: string;
  namespaceLabels: Record<string, string>;
  clusterDomain: string;
}

export interface BindingForOwnership {
  name: string;
  spec: Pick<CertificateAuthorityBindingSpec, 'grants' | 'signer' | 'maxDuration'>;
}

export interface OwnershipFinding {
  rule: OwnershipRule;
  /** The offending field of the request, e.g. 'dnsNames[1]'. */
  field: string;
  value: string;
  /** `<field> "<value>" <why>`. */
  message: string;
}

/** The grants of a binding that select the scope's namespace. */
function selectedGrants(binding: BindingForOwnership, scope: OwnershipScope): CompiledGrant[] {
  return grantsFor(binding.spec.grants, scope.namespace, scope.namespaceLabels);
}

/** The longest lifetime a binding issues: spec.maxDuration, else DEFAULT_LIFETIME_CAP. */
export function lifetimeCapMs(spec: Pick<CertificateAuthorityBindingSpec, 'maxDuration'>): number {
  const ms = spec.maxDuration === undefined ? undefined : parseDuration(spec.maxDuration);
  return ms ?? DEFAULT_CAP_MS;
}

export function trustDomainOf(spec: Pick<CertificateAuthorityBindingSpec, 'signer'>): string {
  return spec.signer?.trustDomain ?? DEFAULT_TRUST_DOMAIN;
}

// ---- the check ---------------------------------------------------------------------------------

interface Ctx {
  ns: string;
  cd: string[];
  trustDomain: string;
  grants: CompiledGrant[];
  binding: string;
}

function finding(rule: OwnershipRule, field: string, value: string, why: string): OwnershipFinding {
  return { rule, field, value, message: `${field} ${quote(value)} ${why}` };
}

function notOwned(c: Ctx, what: string): string {
  return `is not ${what} namespace ${quote(c.ns)} owns and no grant of CertificateAuthorityBinding ${quote(c.binding)} allows it`;
}

function checkDns(c: Ctx, field: string, value: string): OwnershipFinding | undefined {
  const labels = dnsNameLabels(value);
  if (!labels) return finding(OwnershipRule.NameNotOwned, field, value, 'is not a valid DNS name');
  const owned = !reserved(labels[0] === '*' ? labels.slice(1) : labels, c.cd) && ownsDnsLabels(labels, c.ns, c.cd);
  if (!owned && !c.grants.some((g) => g.dnsNames.some((p) => matchDnsLabels(p, labels, c.ns)))) {
    return finding(OwnershipRule.NameNotOwned, field, value, notOwned(c, 'a name'));
  }
  if (labels[0] === '*' && !c.grants.some((g) => g.allowWildcards)) {
    return finding(
      OwnershipRule.WildcardNotGranted,
      field,
      value,
      `is a wildcard name and no grant of CertificateAuthorityBinding ${quote(c.binding)} for namespace ${quote(c.ns)} sets allowWildcards`,
    );
  }
  return undefined;
}

function checkIp(c: Ctx, field: string, value: string): OwnershipFinding | undefined {
  const ip = parseIp(value);
  if (ip && c.grants.some((g) => g.cidrs.some((x) => ipInCidr(ip, x)))) return undefined;
  return finding(OwnershipRule.NameNotOwned, field, value, notOwned(c, 'an address'));
}

function checkUri(c: Ctx, field: string, value: string): OwnershipFinding | undefined {
  const parts = parseUri(value);
  if (
    parts &&
    (ownsUri(parts, c.ns, c.trustDomain) || c.grants.some((g) => g.uris.some((p) => matchUriParts(p, parts, c.ns))))
  )
    return undefined;
  return finding(OwnershipRule.NameNotOwned, field, value, notOwned(c, 'a URI'));
}

function checkEmail(c: Ctx, field: string, value: string): OwnershipFinding | undefined {
  if (c.grants.some((g) => g.emails.some((p) => matchesEmailPattern(p, value, c.ns)))) return undefined;
  return finding(OwnershipRule.NameNotOwned, field, value, notOwned(c, 'an address'));
}

/**
 * A common name is checked like a name when a client could take it for one: an IP address, anything
 * with a dot or a `*`, and the reserved single labels. A plain label ("payments-api") or free text
 * ("Payments API") names nothing a client verifies.
 */
function checkCommonName(c: Ctx, cn: string | undefined): OwnershipFinding | undefined {
  if (!cn) return undefined;
  if (parseIp(cn)) return checkIp(c, 'subject.commonName', cn);
  if (/\s/.test(cn)) return undefined;
  const lower = cn.toLowerCase().replace(/\.$/, '');
  if (lower.includes('.') || lower.includes('*') || lower === 'localhost' || lower === 'kubernetes')
    return checkDns(c, 'subject.commonName', cn);
  return undefined;
}

/** Everything in the request the namespace may not hold under this binding; empty when it may hold it all. */
export function ownershipFindings(
  shape: CertificateShape,
  binding: BindingForOwnership,
  scope: OwnershipScope,
): OwnershipFinding[] {
  const c: Ctx = {
    ns: scope.namespace,
    cd: dnsNameLabels(scope.clusterDomain) ?? ['cluster', 'local'],
    trustDomain: trustDomainOf(binding.spec),
    grants: selectedGrants(binding, scope),
    binding: binding.name,
  };
  const out: OwnershipFinding[] = [];
  const each = (
    values: readonly string[],
    field: string,
    check: (c: Ctx, f: string, v: string) => OwnershipFinding | undefined,
  ): void => {
    values.forEach((v, i) => {
      const f = check(c, `${field}[${i}]`, v);
      if (f) out.push(f);
    });
  };
  if (shape.isCA && !c.grants.some((g) => g.allowCA)) {
    out.push(
      finding(
        OwnershipRule.CANotGranted,
        'isCA',
        'true',
        `asks for a CA certificate and no grant of CertificateAuthorityBinding ${quote(c.binding)} for namespace ${quote(c.ns)} sets allowCA`,
      ),
    );
  }
  const cn = checkCommonName(c, shape.subject.commonName);
  if (cn) out.push(cn);
  each(shape.dnsNames, 'dnsNames', checkDns);
  each(shape.ipAddresses, 'ipAddresses', checkIp);
  each(shape.uris, 'uris', checkUri);
  each(shape.emailAddresses, 'emailAddresses', checkEmail);
  return out;
}

const MAX_LISTED = 10;

/** The denial message: what was refused and how the security team can allow it. */
export function ownershipDenial(findings: readonly OwnershipFinding[], binding: string): string {
  if (findings.length === 0) return '';
  const shown = findings
    .slice(0, MAX_LISTED)
    .map((f) => `${f.message} (${f.rule})`)
    .join('; ');
  const more = findings.length > MAX_LISTED ? `; and ${findings.length - MAX_LISTED} more` : '';
  return `denied by the safe defaults: ${shown}${more}; the security team can allow it with spec.grants of CertificateAuthorityBinding ${quote(binding)} (see docs/security.md)`;
}

// ---- CA certificates ---------------------------------------------------------------------------

/** RFC 5280 name constraints for a CA certificate a namespace was granted. */
export interface NameConstraints {
  permittedDNS: string[];
  excludedDNS: string[];
  /** CIDRs; when empty every IP address is excluded (excludedIP holds both whole families). */
  permittedIP: string[];
  excludedIP: string[];
  /** Mailboxes or hosts; when a grant allows none, the reserved host `invalid` (RFC 6761) permits no real one. */
  permittedEmail: string[];
  /** URI constraints can only name hosts, not SPIFFE paths: a CA under a grant may issue no URI at all. */
  permittedURI: string[];
}

/**
 * Everything a CA certificate issued to the scope's namespace may certify: its own Service and pod
 * name subtrees, granted DNS names (`*.example.com` becomes the subtree `example.com`; an exact name
 * also covers the names below it, which is as narrow as a DNS name constraint can be; patterns with a
 * `*` elsewhere cannot be expressed and are left out), granted CIDRs, granted e-mail domains, no URIs.
 */
export function caNameConstraints(binding: BindingForOwnership, scope: OwnershipScope): NameConstraints {
  const ns = scope.namespace,
    cd = scope.clusterDomain.toLowerCase();
  const grants = selectedGrants(binding, scope);
  const dns = new Set([
    `${ns}.svc`,
    `${ns}.svc.${cd}`,
    `${ns}.pod.${cd}`,
    ...grants.flatMap((g) => grantedDnsSubtrees(g, ns)),
  ]);
  const excludedDNS = ns === 'default' ? ['kubernetes.default.svc', `kubernetes.default.svc.${cd}`] : [];
  const permittedIP = [...new Set(grants.flatMap((g) => g.cidrs.filter((x) => x.valid).map((x) => x.source)))];
  const emails = new Set(grants.flatMap((g) => grantedEmailConstraints(g, ns)));
  emails.delete('');
  return {
    permittedDNS: [...dns],
    excludedDNS,
    permittedIP,
    excludedIP: permittedIP.length === 0 ? ['0.0.0.0/0', '::/0'] : [],
    permittedEmail: emails.size > 0 ? [...emails] : ['invalid'],
    permittedURI: ['invalid'],
  };
}

/** The DNS subtrees a grant's patterns permit (`*.example.com` is `example.com`); a `*` elsewhere cannot be expressed. */
function grantedDnsSubtrees(g: CompiledGrant, ns: string): string[] {
  const out: string[] = [];
  for (const p of g.dnsNames) {
    if (!p.valid) continue;
    const labels = p.labels.map((l) => l.replaceAll('{{namespace}}', ns));
    const rest = labels[0] === '*' ? labels.slice(1) : labels;
    if (rest.length > 0 && !rest.includes('*')) out.push(rest.join('.'));
  }
  return out;
}

/** The mailbox or host constraints a grant's e-mail patterns permit; '' for a pattern that cannot be expressed. */
function grantedEmailConstraints(g: CompiledGrant, ns: string): string[] {
  const out: string[] = [];
  for (const p of g.emails) {
    if (!p.valid || (p.usesNamespace && !/^[a-z0-9-]+$/.test(ns))) continue;
    const local = p.local.replaceAll('{{namespace}}', ns);
    const domain = p.domain.labels.map((l) => l.replaceAll('{{namespace}}', ns));
    if (domain.includes('*')) continue;
    out.push(emailConstraint(local, domain.join('.')));
  }
  return out;
}

function emailConstraint(local: string, domain: string): string {
  if (local === '*') return domain;
  return local.includes('*') ? '' : `${local}@${domain}`;
}
