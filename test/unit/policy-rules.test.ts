import { describe, it, expect } from '@jest/globals';
import type { PolicyRules } from '../../src/crds/issuance-policy.ts';
import { checkRules } from '../../src/policy/rules.ts';
import { compileRules } from '../../src/policy/compile-rules.ts';
import { quote } from '../../src/policy/findings.ts';
import { certificateTarget, requestTarget } from '../../src/policy/evaluate.ts';
import type { DiscoveredCertificate, IdentityRequest } from '../../src/policy/types.ts';

const H = 3_600_000;

function request(patch: Partial<IdentityRequest> = {}): IdentityRequest {
  return {
    namespace: 'payments',
    name: 'api',
    labels: {},
    authority: 'corp-ca',
    subject: { commonName: 'api', organizations: ['Example'] },
    dnsNames: ['api.payments.svc'],
    ipAddresses: ['10.0.0.10'],
    uris: ['spiffe://cluster.local/ns/payments/sa/api'],
    emailAddresses: ['ops@example.com'],
    usages: ['serverAuth'],
    isCA: false,
    key: { algorithm: 'ECDSA', size: 256 },
    durationMs: 2160 * H,
    ownerTeam: 'payments',
    ...patch,
  };
}

function cert(patch: Partial<DiscoveredCertificate> = {}): DiscoveredCertificate {
  return {
    namespace: 'payments',
    kind: 'Secret',
    name: 'legacy',
    dataKey: 'tls.crt',
    labels: {},
    subject: { commonName: 'legacy', organizations: [] },
    dnsNames: ['legacy.payments.svc'],
    ipAddresses: [],
    uris: [],
    emailAddresses: [],
    usages: ['digitalSignature', 'serverAuth'],
    isCA: false,
    key: { algorithm: 'RSA', size: 2048 },
    signatureAlgorithm: 'SHA256WithRSA',
    selfSigned: false,
    lifetimeMs: 8760 * H,
    issuer: 'CN=Corp CA',
    ...patch,
  };
}

const ruleNames = (rules: PolicyRules, t: IdentityRequest | DiscoveredCertificate): string[] => {
  const target =
    'authority' in t && 'durationMs' in t
      ? requestTarget(t as IdentityRequest)
      : certificateTarget(t as DiscoveredCertificate);
  return checkRules(compileRules(rules), target).map((f) => `${f.rule}@${f.field}`);
};

type Case = [string, PolicyRules, Partial<IdentityRequest>, string[]];

const requestCases: Case[] = [
  // no rules
  ['empty rules allow anything', {}, {}, []],
  [
    'empty rules allow a CA with wildcard and odd key',
    {},
    { isCA: true, dnsNames: ['*.x.y'], key: { algorithm: 'RSA', size: 1024 } },
    [],
  ],
  // allowedAuthorities
  ['authority listed', { allowedAuthorities: ['corp-ca'] }, {}, []],
  ['authority not listed', { allowedAuthorities: ['other'] }, {}, ['allowedAuthorities@authorityRef.name']],
  ['authority: empty list allows none', { allowedAuthorities: [] }, {}, ['allowedAuthorities@authorityRef.name']],
  ['authority: case matters', { allowedAuthorities: ['Corp-CA'] }, {}, ['allowedAuthorities@authorityRef.name']],
  // privateKey
  ['algorithm allowed', { privateKey: { allowedAlgorithms: ['ECDSA', 'RSA'] } }, {}, []],
  [
    'algorithm not allowed',
    { privateKey: { allowedAlgorithms: ['RSA'] } },
    {},
    ['privateKey.allowedAlgorithms@privateKey.algorithm'],
  ],
  [
    'Ed25519 not allowed',
    { privateKey: { allowedAlgorithms: ['ECDSA'] } },
    { key: { algorithm: 'Ed25519' } },
    ['privateKey.allowedAlgorithms@privateKey.algorithm'],
  ],
  ['Ed25519 allowed', { privateKey: { allowedAlgorithms: ['Ed25519'] } }, { key: { algorithm: 'Ed25519' } }, []],
  [
    'RSA 3072 meets minRSASize 3072',
    { privateKey: { minRSASize: 3072 } },
    { key: { algorithm: 'RSA', size: 3072 } },
    [],
  ],
  [
    'RSA 2048 below minRSASize 3072',
    { privateKey: { minRSASize: 3072 } },
    { key: { algorithm: 'RSA', size: 2048 } },
    ['privateKey.minRSASize@privateKey.size'],
  ],
  [
    'RSA without size fails minRSASize',
    { privateKey: { minRSASize: 2048 } },
    { key: { algorithm: 'RSA' } },
    ['privateKey.minRSASize@privateKey.size'],
  ],
  ['minRSASize ignores ECDSA', { privateKey: { minRSASize: 4096 } }, {}, []],
  ['curve P-256 allowed', { privateKey: { allowedECDSACurves: ['P-256', 'P-384'] } }, {}, []],
  [
    'curve P-384 allowed',
    { privateKey: { allowedECDSACurves: ['P-384'] } },
    { key: { algorithm: 'ECDSA', size: 384 } },
    [],
  ],
  [
    'curve P-521 not allowed',
    { privateKey: { allowedECDSACurves: ['P-256', 'P-384'] } },
    { key: { algorithm: 'ECDSA', size: 521 } },
    ['privateKey.allowedECDSACurves@privateKey.size'],
  ],
  [
    'curve P-256 not allowed',
    { privateKey: { allowedECDSACurves: ['P-384'] } },
    {},
    ['privateKey.allowedECDSACurves@privateKey.size'],
  ],
  [
    'ECDSA without size fails curve rule',
    { privateKey: { allowedECDSACurves: ['P-256'] } },
    { key: { algorithm: 'ECDSA' } },
    ['privateKey.allowedECDSACurves@privateKey.size'],
  ],
  [
    'curve rule ignores RSA',
    { privateKey: { allowedECDSACurves: ['P-256'] } },
    { key: { algorithm: 'RSA', size: 2048 } },
    [],
  ],
  [
    'algorithm and size both fail',
    { privateKey: { allowedAlgorithms: ['ECDSA'], minRSASize: 3072 } },
    { key: { algorithm: 'RSA', size: 2048 } },
    ['privateKey.allowedAlgorithms@privateKey.algorithm', 'privateKey.minRSASize@privateKey.size'],
  ],
  // durations
  ['duration at maxDuration', { maxDuration: '2160h' }, {}, []],
  ['duration over maxDuration', { maxDuration: '720h' }, {}, ['maxDuration@duration']],
  ['duration 1ms over maxDuration', { maxDuration: '1h' }, { durationMs: H + 1 }, ['maxDuration@duration']],
  ['duration at minDuration', { minDuration: '1h' }, { durationMs: H }, []],
  ['duration under minDuration', { minDuration: '1h' }, { durationMs: 30 * 60_000 }, ['minDuration@duration']],
  ['duration between min and max', { minDuration: '1h', maxDuration: '2160h' }, { durationMs: 24 * H }, []],
  [
    'unparsable requested duration fails maxDuration',
    { maxDuration: '2160h' },
    { durationMs: Number.POSITIVE_INFINITY },
    ['maxDuration@duration'],
  ],
  ['unparsable maxDuration denies (fail closed)', { maxDuration: 'forever' }, {}, ['maxDuration@duration']],
  // dnsNames
  ['dns: absent rule allows anything', { dnsNames: {} }, { dnsNames: ['evil.com'] }, []],
  ['dns: namespace pattern', { dnsNames: { allowed: ['*.{{namespace}}.svc'] } }, {}, []],
  [
    'dns: other namespace',
    { dnsNames: { allowed: ['*.{{namespace}}.svc'] } },
    { dnsNames: ['api.billing.svc'] },
    ['dnsNames.allowed@dnsNames[0]'],
  ],
  [
    'dns: second name off-pattern',
    { dnsNames: { allowed: ['*.{{namespace}}.svc', '*.example.com'] } },
    { dnsNames: ['api.payments.svc', 'evil.com'] },
    ['dnsNames.allowed@dnsNames[1]'],
  ],
  ['dns: empty list allows none', { dnsNames: { allowed: [] } }, {}, ['dnsNames.allowed@dnsNames[0]']],
  ['dns: empty list allows an empty request', { dnsNames: { allowed: [] } }, { dnsNames: [] }, []],
  ['dns: literal pattern', { dnsNames: { allowed: ['api.example.com'] } }, { dnsNames: ['API.Example.COM'] }, []],
  [
    'dns: trailing dot normalised',
    { dnsNames: { allowed: ['*.example.com'] } },
    { dnsNames: ['api.example.com.'] },
    [],
  ],
  [
    'dns: two labels for one star',
    { dnsNames: { allowed: ['*.example.com'] } },
    { dnsNames: ['a.b.example.com'] },
    ['dnsNames.allowed@dnsNames[0]'],
  ],
  [
    'dns: apex not covered by star',
    { dnsNames: { allowed: ['*.example.com'] } },
    { dnsNames: ['example.com'] },
    ['dnsNames.allowed@dnsNames[0]'],
  ],
  [
    'dns: wildcard request allowed by default',
    { dnsNames: { allowed: ['*.example.com'] } },
    { dnsNames: ['*.example.com'] },
    [],
  ],
  [
    'dns: wildcard request forbidden',
    { dnsNames: { allowed: ['*.example.com'], allowWildcardCertificates: false } },
    { dnsNames: ['*.example.com'] },
    ['dnsNames.allowWildcardCertificates@dnsNames[0]'],
  ],
  [
    'dns: wildcard forbidden without allowed list',
    { dnsNames: { allowWildcardCertificates: false } },
    { dnsNames: ['ok.example.com', '*.example.com'] },
    ['dnsNames.allowWildcardCertificates@dnsNames[1]'],
  ],
  [
    'dns: wildcard explicitly allowed',
    { dnsNames: { allowWildcardCertificates: true } },
    { dnsNames: ['*.example.com'] },
    [],
  ],
  [
    'dns: wildcard request does not match a literal pattern',
    { dnsNames: { allowed: ['api.example.com'] } },
    { dnsNames: ['*.example.com'] },
    ['dnsNames.allowed@dnsNames[0]'],
  ],
  [
    'dns: invalid namespace never matches',
    { dnsNames: { allowed: ['*.{{namespace}}.svc'] } },
    { namespace: 'a.b', dnsNames: ['x.a.b.svc'] },
    ['dnsNames.allowed@dnsNames[0]'],
  ],
  [
    'dns: partial-label star pattern never matches',
    { dnsNames: { allowed: ['api-*.example.com'] } },
    { dnsNames: ['api-1.example.com'] },
    ['dnsNames.allowed@dnsNames[0]'],
  ],
  // ipAddresses
  ['ip: in CIDR', { ipAddresses: { allowedCIDRs: ['10.0.0.0/8'] } }, {}, []],
  [
    'ip: outside CIDR',
    { ipAddresses: { allowedCIDRs: ['192.168.0.0/16'] } },
    {},
    ['ipAddresses.allowedCIDRs@ipAddresses[0]'],
  ],
  [
    'ip: empty list allows none',
    { ipAddresses: { allowedCIDRs: [] } },
    {},
    ['ipAddresses.allowedCIDRs@ipAddresses[0]'],
  ],
  ['ip: IPv6 in range', { ipAddresses: { allowedCIDRs: ['fd00::/8'] } }, { ipAddresses: ['fd12::1'] }, []],
  [
    'ip: IPv6 outside range',
    { ipAddresses: { allowedCIDRs: ['fd00::/8'] } },
    { ipAddresses: ['2001:db8::1'] },
    ['ipAddresses.allowedCIDRs@ipAddresses[0]'],
  ],
  [
    'ip: IPv4-mapped IPv6 treated as IPv4',
    { ipAddresses: { allowedCIDRs: ['10.0.0.0/8'] } },
    { ipAddresses: ['::ffff:10.1.2.3'] },
    [],
  ],
  [
    'ip: IPv4-mapped outside',
    { ipAddresses: { allowedCIDRs: ['10.0.0.0/8'] } },
    { ipAddresses: ['::ffff:11.1.2.3'] },
    ['ipAddresses.allowedCIDRs@ipAddresses[0]'],
  ],
  [
    'ip: IPv4 not in an IPv6 range',
    { ipAddresses: { allowedCIDRs: ['::/0'] } },
    { ipAddresses: ['10.0.0.1'] },
    ['ipAddresses.allowedCIDRs@ipAddresses[0]'],
  ],
  [
    'ip: garbage never matches',
    { ipAddresses: { allowedCIDRs: ['0.0.0.0/0'] } },
    { ipAddresses: ['10.0.0.1 '] },
    ['ipAddresses.allowedCIDRs@ipAddresses[0]'],
  ],
  // uris
  [
    'uri: spiffe namespace pattern',
    { uris: { allowed: ['spiffe://cluster.local/ns/{{namespace}}/*'] } },
    {},
    ['uris.allowed@uris[0]'],
  ],
  ['uri: spiffe sa pattern', { uris: { allowed: ['spiffe://cluster.local/ns/{{namespace}}/sa/*'] } }, {}, []],
  [
    'uri: other namespace',
    { uris: { allowed: ['spiffe://cluster.local/ns/{{namespace}}/sa/*'] } },
    { uris: ['spiffe://cluster.local/ns/billing/sa/api'] },
    ['uris.allowed@uris[0]'],
  ],
  ['uri: empty list allows none', { uris: { allowed: [] } }, {}, ['uris.allowed@uris[0]']],
  [
    'uri: host case-insensitive',
    { uris: { allowed: ['spiffe://cluster.local/ns/{{namespace}}/sa/*'] } },
    { uris: ['SPIFFE://Cluster.Local/ns/payments/sa/api'] },
    [],
  ],
  [
    'uri: dot-dot segment rejected',
    { uris: { allowed: ['spiffe://cluster.local/ns/{{namespace}}/sa/*/*'] } },
    { uris: ['spiffe://cluster.local/ns/payments/sa/../x'] },
    ['uris.allowed@uris[0]'],
  ],
  // emailAddresses
  ['email: pattern', { emailAddresses: { allowed: ['*@example.com'] } }, {}, []],
  [
    'email: other domain',
    { emailAddresses: { allowed: ['*@example.com'] } },
    { emailAddresses: ['ops@evil.com'] },
    ['emailAddresses.allowed@emailAddresses[0]'],
  ],
  [
    'email: empty list allows none',
    { emailAddresses: { allowed: [] } },
    {},
    ['emailAddresses.allowed@emailAddresses[0]'],
  ],
  ['email: empty list allows an empty request', { emailAddresses: { allowed: [] } }, { emailAddresses: [] }, []],
  [
    'email: subdomain star',
    { emailAddresses: { allowed: ['ops@*.example.com'] } },
    { emailAddresses: ['ops@eu.example.com'] },
    [],
  ],
  // subject
  ['subject: CN required and present', { subject: { requireCommonName: true } }, {}, []],
  [
    'subject: CN required and missing',
    { subject: { requireCommonName: true } },
    { subject: { organizations: [] } },
    ['subject.requireCommonName@subject.commonName'],
  ],
  [
    'subject: CN required and empty',
    { subject: { requireCommonName: true } },
    { subject: { commonName: '', organizations: [] } },
    ['subject.requireCommonName@subject.commonName'],
  ],
  ['subject: CN not required', { subject: { requireCommonName: false } }, { subject: { organizations: [] } }, []],
  ['subject: org allowed', { subject: { allowedOrganizations: ['Example'] } }, {}, []],
  [
    'subject: org not allowed',
    { subject: { allowedOrganizations: ['Other'] } },
    {},
    ['subject.allowedOrganizations@subject.organizations[0]'],
  ],
  [
    'subject: empty org list allows none',
    { subject: { allowedOrganizations: [] } },
    {},
    ['subject.allowedOrganizations@subject.organizations[0]'],
  ],
  [
    'subject: no orgs requested',
    { subject: { allowedOrganizations: [] } },
    { subject: { commonName: 'x', organizations: [] } },
    [],
  ],
  // usages
  [
    'usages allowed',
    { usages: { allowed: ['serverAuth', 'clientAuth'] } },
    { usages: ['clientAuth', 'serverAuth'] },
    [],
  ],
  [
    'usage not allowed',
    { usages: { allowed: ['serverAuth'] } },
    { usages: ['serverAuth', 'codeSigning'] },
    ['usages.allowed@usages[1]'],
  ],
  ['usages: empty list allows none', { usages: { allowed: [] } }, {}, ['usages.allowed@usages[0]']],
  // allowCA
  ['allowCA false, leaf', { allowCA: false }, {}, []],
  ['allowCA false, CA', { allowCA: false }, { isCA: true }, ['allowCA@isCA']],
  ['allowCA true, CA', { allowCA: true }, { isCA: true }, []],
  // requireOwner
  ['owner required and present', { requireOwner: true }, {}, []],
  ['owner required and missing', { requireOwner: true }, { ownerTeam: undefined }, ['requireOwner@owner.team']],
  ['owner required and empty', { requireOwner: true }, { ownerTeam: '' }, ['requireOwner@owner.team']],
  ['owner not required', { requireOwner: false }, { ownerTeam: undefined }, []],
  // discovered-only rules do not apply to requests
  ['forbidSelfSigned ignores requests', { forbidSelfSigned: true }, {}, []],
  ['allowedSignatureAlgorithms ignores requests', { allowedSignatureAlgorithms: ['Ed25519'] }, {}, []],
];

describe('rules on issuance requests', () => {
  it.each(requestCases)('%s', (_n, rules, patch, want) => expect(ruleNames(rules, request(patch))).toEqual(want));
});

type CertCase = [string, PolicyRules, Partial<DiscoveredCertificate>, string[]];
const certCases: CertCase[] = [
  ['forbidSelfSigned: CA-signed leaf', { forbidSelfSigned: true }, {}, []],
  [
    'forbidSelfSigned: self-signed leaf',
    { forbidSelfSigned: true },
    { selfSigned: true },
    ['forbidSelfSigned@selfSigned'],
  ],
  ['forbidSelfSigned: self-signed root CA is fine', { forbidSelfSigned: true }, { selfSigned: true, isCA: true }, []],
  ['forbidSelfSigned false', { forbidSelfSigned: false }, { selfSigned: true }, []],
  ['signature allowed', { allowedSignatureAlgorithms: ['SHA256WithRSA', 'ECDSAWithSHA256'] }, {}, []],
  [
    'SHA1 signature not allowed',
    { allowedSignatureAlgorithms: ['SHA256WithRSA'] },
    { signatureAlgorithm: 'SHA1WithRSA' },
    ['allowedSignatureAlgorithms@signatureAlgorithm'],
  ],
  [
    'unknown OID signature not allowed',
    { allowedSignatureAlgorithms: ['Ed25519'] },
    { signatureAlgorithm: '1.2.3.4' },
    ['allowedSignatureAlgorithms@signatureAlgorithm'],
  ],
  [
    'signatures: empty list allows none',
    { allowedSignatureAlgorithms: [] },
    {},
    ['allowedSignatureAlgorithms@signatureAlgorithm'],
  ],
  ['lifetime over maxDuration', { maxDuration: '2160h' }, {}, ['maxDuration@lifetime']],
  ['lifetime within maxDuration', { maxDuration: '8760h' }, {}, []],
  [
    'lifetime back-dated by a minute is within maxDuration',
    { maxDuration: '8760h' },
    { lifetimeMs: 8760 * H + 60_000 },
    [],
  ],
  ['lifetime 5m over maxDuration is the limit', { maxDuration: '8760h' }, { lifetimeMs: 8760 * H + 5 * 60_000 }, []],
  [
    'lifetime 5m1s over maxDuration violates',
    { maxDuration: '8760h' },
    { lifetimeMs: 8760 * H + 5 * 60_000 + 1000 },
    ['maxDuration@lifetime'],
  ],
  [
    'RSASSA-PSS counts as RSA for minRSASize',
    { privateKey: { minRSASize: 3072 } },
    { key: { algorithm: 'RSASSA-PSS', size: 2048 } },
    ['privateKey.minRSASize@privateKey.size'],
  ],
  [
    'Ed448 is not an allowed algorithm',
    { privateKey: { allowedAlgorithms: ['Ed25519'] } },
    { key: { algorithm: 'Ed448' } },
    ['privateKey.allowedAlgorithms@privateKey.algorithm'],
  ],
  ['requireOwner ignores certificates', { requireOwner: true }, {}, []],
  [
    'allowedAuthorities: a certificate from no known CA',
    { allowedAuthorities: ['corp-ca'] },
    {},
    ['allowedAuthorities@issuer'],
  ],
  [
    'allowedAuthorities: a certificate that chains to an allowed CA',
    { allowedAuthorities: ['corp-ca'] },
    { authority: 'corp-ca' },
    [],
  ],
  [
    'allowedAuthorities: another CA',
    { allowedAuthorities: ['corp-ca'] },
    { authority: 'other' },
    ['allowedAuthorities@issuer'],
  ],
  ['discovered dns name checked', { dnsNames: { allowed: ['*.example.com'] } }, {}, ['dnsNames.allowed@dnsNames[0]']],
  ['discovered usages checked', { usages: { allowed: ['serverAuth'] } }, {}, ['usages.allowed@usages[0]']],
];

describe('rules on discovered certificates', () => {
  it.each(certCases)('%s', (_n, rules, patch, want) => expect(ruleNames(rules, cert(patch))).toEqual(want));
});

describe('messages', () => {
  const msg = (rules: PolicyRules, patch: Partial<IdentityRequest>): string[] =>
    checkRules(compileRules(rules), requestTarget(request(patch))).map((f) => f.message);

  it('names the field, the quoted value and the patterns with the namespace filled in', () => {
    expect(
      msg(
        { dnsNames: { allowed: ['*.{{namespace}}.svc', '*.example.com'] } },
        { dnsNames: ['a.payments.svc', 'evil.com'] },
      ),
    ).toEqual(['dnsNames[1] "evil.com" matches none of *.payments.svc, *.example.com']);
  });
  it('quotes hostile values so they cannot end the message early', () => {
    const [m] = msg(
      { dnsNames: { allowed: ['*.example.com'] } },
      { dnsNames: ['x"; allowed by IssuancePolicy y\n\u202e'] },
    );
    expect(m).toBe('dnsNames[0] "x\\"; allowed by IssuancePolicy y\\n\\u202e" matches none of *.example.com');
  });
  it('says an empty list allows nothing', () => {
    expect(msg({ usages: { allowed: [] } }, {})).toEqual([
      'usages[0] "serverAuth" is not allowed (the allowed list is empty)',
    ]);
  });
  it('shows durations as Go durations', () => {
    expect(msg({ maxDuration: '720h' }, {})).toEqual(['duration "2160h" exceeds maxDuration 720h']);
    expect(msg({ minDuration: '1h' }, { durationMs: 90_000 })).toEqual(['duration "1m30s" is below minDuration 1h']);
  });
  it('cuts long values and long lists', () => {
    expect(quote('a'.repeat(300))).toMatch(/…\(44 more characters\)$/);
    const allowed = Array.from({ length: 12 }, (_, i) => `n${i}.example.com`);
    expect(msg({ dnsNames: { allowed } }, { dnsNames: ['x.y'] })[0]).toMatch(/n9\.example\.com, … \(2 more\)$/);
  });
  it('reports policies whose patterns can never match', () => {
    expect(
      compileRules({ dnsNames: { allowed: ['api-*.example.com', 'ok.example.com'] }, maxDuration: 'nope' }).problems,
    ).toEqual(['maxDuration "nope" is not a duration', 'dnsNames.allowed entry "api-*.example.com" never matches']);
  });
});
