// The IssuancePolicy rules on the names a certificate carries: SANs (DNS names, IP addresses, URIs,
// e-mail addresses) and the subject. Each checks every value and reports each one it rejects.
import { eachValue, NONE, noneOf, type Finding } from './findings.ts';
import { ipInCidr } from './ip-ranges.ts';
import { isWildcardName, matchDnsLabels, matchesEmailPattern, matchUriParts, showPattern } from './patterns.ts';
import type { RuleCheck } from './rule-target.ts';

export const dnsNames: RuleCheck = (r, t) => {
  const out: Finding[] = [];
  if (r.raw.dnsNames?.allowWildcardCertificates === false) {
    out.push(
      ...eachValue(
        t.dnsNames,
        'dnsNames',
        'dnsNames.allowWildcardCertificates',
        (v) => !isWildcardName(v),
        () => 'is a wildcard name and allowWildcardCertificates is false',
      ),
    );
  }
  const patterns = r.dnsNames;
  if (patterns) {
    const ok = (_v: string, i: number): boolean => {
      const labels = t.parsed.dnsNames[i];
      return labels !== undefined && patterns.some((p) => matchDnsLabels(p, labels, t.namespace));
    };
    out.push(
      ...eachValue(t.dnsNames, 'dnsNames', 'dnsNames.allowed', ok, () =>
        noneOf(
          patterns.map((p) => showPattern(p.source, t.namespace)),
          'matches none of',
        ),
      ),
    );
  }
  return out;
};

export const ipAddresses: RuleCheck = (r, t) => {
  const cidrs = r.cidrs;
  if (!cidrs) return NONE;
  const ok = (_v: string, i: number): boolean => {
    const ip = t.parsed.ips[i];
    return ip !== undefined && cidrs.some((c) => ipInCidr(ip, c));
  };
  return eachValue(t.ipAddresses, 'ipAddresses', 'ipAddresses.allowedCIDRs', ok, () =>
    noneOf(
      cidrs.map((c) => c.source),
      'is in none of',
    ),
  );
};

export const uris: RuleCheck = (r, t) => {
  const patterns = r.uris;
  if (!patterns) return NONE;
  const ok = (_v: string, i: number): boolean => {
    const parts = t.parsed.uris[i];
    return parts !== undefined && patterns.some((p) => matchUriParts(p, parts, t.namespace));
  };
  return eachValue(t.uris, 'uris', 'uris.allowed', ok, () =>
    noneOf(
      patterns.map((p) => showPattern(p.source, t.namespace)),
      'matches none of',
    ),
  );
};

export const emailAddresses: RuleCheck = (r, t) => {
  const patterns = r.emails;
  if (!patterns) return NONE;
  return eachValue(
    t.emailAddresses,
    'emailAddresses',
    'emailAddresses.allowed',
    (v) => patterns.some((p) => matchesEmailPattern(p, v, t.namespace)),
    () =>
      noneOf(
        patterns.map((p) => showPattern(p.source, t.namespace)),
        'matches none of',
      ),
  );
};

export const subject: RuleCheck = (r, t) => {
  const s = r.raw.subject;
  if (!s) return NONE;
  const out: Finding[] = [];
  if (s.requireCommonName === true && !t.subject.commonName) {
    out.push({
      rule: 'subject.requireCommonName',
      field: 'subject.commonName',
      value: '',
      message: 'subject.commonName is required',
    });
  }
  const orgs = s.allowedOrganizations;
  if (orgs) {
    out.push(
      ...eachValue(
        t.subject.organizations,
        'subject.organizations',
        'subject.allowedOrganizations',
        (v) => orgs.includes(v),
        () => noneOf(orgs, 'is not one of'),
      ),
    );
  }
  return out;
};
