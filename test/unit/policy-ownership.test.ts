// The safe defaults: what a namespace owns, what a grant adds, CA certificates and the lifetime cap.
import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { CertificateAuthorityBindingSpec } from '../../src/crds/certificate-authority-binding.ts';
import type { CertificateAuthorityBindingSpecInput } from '../../src/crds/certificate-authority-binding.ts';
import { MachineIdentitySpec } from '../../src/crds/machine-identity.ts';
import type { MachineIdentitySpecInput } from '../../src/crds/machine-identity.ts';
import { caNameConstraints, lifetimeCapMs, ownershipFindings } from '../../src/policy/ownership.ts';
import { OwnershipRule } from '../../src/crds/reasons.ts';
import { decideIdentity } from '../../src/policy/decide.ts';
import { requestFromMachineIdentity } from '../../src/policy/types.ts';
import { Reason } from '../../src/crds/reasons.ts';

const binding = (
  spec: Partial<CertificateAuthorityBindingSpecInput> = {},
): { name: string; spec: CertificateAuthorityBindingSpec } => ({
  name: 'corp-ca',
  spec: CertificateAuthorityBindingSpec.parse({ ca: { secretRef: { name: 'corp-ca' } }, ...spec }),
});
const request = (s: Partial<MachineIdentitySpecInput>, namespace = 'team-a') =>
  requestFromMachineIdentity({
    metadata: { name: 'web', namespace },
    spec: MachineIdentitySpec.parse({ secretName: 'web-tls', authorityRef: { name: 'corp-ca' }, ...s }),
  });
const scope = (namespace = 'team-a', namespaceLabels: Record<string, string> = {}) => ({
  namespace,
  namespaceLabels,
  clusterDomain: 'cluster.local',
});
const rules = (
  s: Partial<MachineIdentitySpecInput>,
  b = binding(),
  ns = 'team-a',
  labels: Record<string, string> = {},
): string[] => ownershipFindings(request(s, ns), b, scope(ns, labels)).map((f) => `${f.rule} ${f.field}`);

describe('what a namespace owns by default', () => {
  const rows: { name: string; s: Partial<MachineIdentitySpecInput>; ns?: string; want: string[] }[] = [
    {
      name: 'its Service names, short and full',
      s: { dnsNames: ['web.team-a.svc', 'web.team-a.svc.cluster.local', 'WEB.team-a.svc'] },
      want: [],
    },
    {
      name: 'pod names: hostname.subdomain and pod A records',
      s: { dnsNames: ['db-0.db.team-a.svc.cluster.local', '10-1-2-3.team-a.pod.cluster.local'] },
      want: [],
    },
    {
      name: 'its SPIFFE IDs',
      s: { uris: ['spiffe://cluster.local/ns/team-a/sa/api', 'spiffe://cluster.local/ns/team-a/sa/my.sa'] },
      want: [],
    },
    {
      name: 'a plain common name and free text',
      s: { subject: { commonName: 'payments-api' }, dnsNames: ['web.team-a.svc'] },
      want: [],
    },
    {
      name: "another namespace's Service",
      s: { dnsNames: ['api.payments.svc', 'api.payments.svc.cluster.local'] },
      want: ['NameNotOwned dnsNames[0]', 'NameNotOwned dnsNames[1]'],
    },
    {
      name: "another namespace's pods",
      s: { dnsNames: ['db-0.db.payments.svc.cluster.local', '10-1-2-3.payments.pod.cluster.local'] },
      want: ['NameNotOwned dnsNames[0]', 'NameNotOwned dnsNames[1]'],
    },
    {
      name: "the API server's names, even in namespace default",
      ns: 'default',
      s: {
        dnsNames: [
          'kubernetes',
          'kubernetes.default',
          'kubernetes.default.svc',
          'kubernetes.default.svc.cluster.local',
        ],
      },
      want: [
        'NameNotOwned dnsNames[0]',
        'NameNotOwned dnsNames[1]',
        'NameNotOwned dnsNames[2]',
        'NameNotOwned dnsNames[3]',
      ],
    },
    {
      name: 'other Services of namespace default are its own',
      ns: 'default',
      s: { dnsNames: ['web.default.svc'] },
      want: [],
    },
    {
      name: 'localhost and loopback',
      s: { dnsNames: ['localhost', 'app.localhost'], ipAddresses: ['127.0.0.1', '::1'] },
      want: [
        'NameNotOwned dnsNames[0]',
        'NameNotOwned dnsNames[1]',
        'NameNotOwned ipAddresses[0]',
        'NameNotOwned ipAddresses[1]',
      ],
    },
    {
      name: 'any IP address',
      s: { dnsNames: ['web.team-a.svc'], ipAddresses: ['10.0.0.10'] },
      want: ['NameNotOwned ipAddresses[0]'],
    },
    {
      name: 'public and corporate names',
      s: { dnsNames: ['www.example.com', 'team-a.svc.example.com'] },
      want: ['NameNotOwned dnsNames[0]', 'NameNotOwned dnsNames[1]'],
    },
    {
      name: 'cluster-wide Service wildcards',
      s: { dnsNames: ['*.svc', '*.svc.cluster.local'] },
      want: ['NameNotOwned dnsNames[0]', 'NameNotOwned dnsNames[1]'],
    },
    {
      name: 'a wildcard of its own names needs a grant',
      s: { dnsNames: ['*.team-a.svc'] },
      want: ['WildcardNotGranted dnsNames[0]'],
    },
    {
      name: "a label that is not a namespace's: team-a.svc itself",
      s: { dnsNames: ['team-a.svc'] },
      want: ['NameNotOwned dnsNames[0]'],
    },
    {
      name: 'SPIFFE IDs of other namespaces, other trust domains, or with tricks',
      s: {
        uris: [
          'spiffe://cluster.local/ns/payments/sa/api',
          'spiffe://evil.example/ns/team-a/sa/api',
          'spiffe://cluster.local/ns/team-a/sa/api/extra',
          'spiffe://cluster.local/ns/team-a/sa/../../payments/sa/api',
          'spiffe://cluster.local/ns/team-a/sa/%2e%2e',
          'https://team-a.svc/',
        ],
      },
      want: [
        'NameNotOwned uris[0]',
        'NameNotOwned uris[1]',
        'NameNotOwned uris[2]',
        'NameNotOwned uris[3]',
        'NameNotOwned uris[4]',
        'NameNotOwned uris[5]',
      ],
    },
    {
      name: 'e-mail addresses are never owned',
      s: { emailAddresses: ['ops@team-a.svc'] },
      want: ['NameNotOwned emailAddresses[0]'],
    },
    {
      name: 'a host-like common name is checked as a name',
      s: { subject: { commonName: 'kubernetes.default.svc' } },
      want: ['NameNotOwned subject.commonName'],
    },
    {
      name: 'an IP common name is checked as an address',
      s: { subject: { commonName: '10.0.0.1' } },
      want: ['NameNotOwned subject.commonName'],
    },
    {
      name: 'reserved single-label common names',
      s: { subject: { commonName: 'localhost' } },
      want: ['NameNotOwned subject.commonName'],
    },
    {
      name: 'a CA certificate needs a grant',
      s: { isCA: true, dnsNames: ['ca.team-a.svc'] },
      want: ['CANotGranted isCA'],
    },
  ];
  it.each(rows)('$name', ({ s, ns, want }) => {
    expect(rules(s, binding(), ns ?? 'team-a')).toEqual(want);
  });
});

describe('grants on the binding', () => {
  const granted = binding({
    grants: [
      {
        namespaceSelector: { matchLabels: { team: 'a' } },
        dnsNames: ['*.{{namespace}}.example.com', 'api.example.com'],
        ipAddresses: ['10.0.0.0/8'],
        uris: ['spiffe://example.org/ns/{{namespace}}/*'],
        emailAddresses: ['*@team-a.example.com'],
        allowWildcards: true,
      },
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'team-ca' } },
        allowCA: true,
        dnsNames: ['*.ca.example.com'],
      },
    ],
  });
  const rows: {
    name: string;
    s: Partial<MachineIdentitySpecInput>;
    ns?: string;
    labels?: Record<string, string>;
    want: string[];
  }[] = [
    {
      name: 'granted names, addresses and URIs',
      labels: { team: 'a' },
      s: {
        dnsNames: ['web.team-a.example.com', 'api.example.com'],
        ipAddresses: ['10.1.2.3'],
        uris: ['spiffe://example.org/ns/team-a/web'],
        emailAddresses: ['ops@team-a.example.com'],
      },
      want: [],
    },
    {
      name: 'wildcards of owned and granted names with allowWildcards',
      labels: { team: 'a' },
      s: { dnsNames: ['*.team-a.svc', '*.team-a.example.com'] },
      want: [],
    },
    {
      name: 'the grant does not select an unlabelled namespace',
      s: { dnsNames: ['api.example.com'], ipAddresses: ['10.1.2.3'] },
      want: ['NameNotOwned dnsNames[0]', 'NameNotOwned ipAddresses[0]'],
    },
    {
      name: "{{namespace}} is the requester's: another namespace's granted name is not",
      labels: { team: 'a' },
      s: { dnsNames: ['web.team-b.example.com'] },
      want: ['NameNotOwned dnsNames[0]'],
    },
    {
      name: 'outside the granted CIDR',
      labels: { team: 'a' },
      s: { ipAddresses: ['192.168.1.1', '::ffff:10.0.0.1'] },
      want: ['NameNotOwned ipAddresses[0]'],
    },
    {
      name: 'a wildcard without allowWildcards in a selecting grant',
      ns: 'team-ca',
      s: { dnsNames: ['*.ca.example.com'] },
      want: ['WildcardNotGranted dnsNames[0]'],
    },
    {
      name: 'a CA certificate with allowCA, selected by the namespace name label',
      ns: 'team-ca',
      s: { isCA: true, dnsNames: ['x.ca.example.com'] },
      want: [],
    },
    {
      name: "allowCA of another namespace's grant does not apply",
      labels: { team: 'a' },
      s: { isCA: true, dnsNames: ['ca.team-a.svc'] },
      want: ['CANotGranted isCA'],
    },
  ];
  it.each(rows)('$name', ({ s, ns, labels, want }) => {
    expect(rules(s, granted, ns ?? 'team-a', labels ?? {})).toEqual(want);
  });
});

describe('decideIdentity with the safe defaults', () => {
  const opts = (b = binding()) => ({ namespaceLabels: {}, ownership: { binding: b, clusterDomain: 'cluster.local' } });
  const mi = (s: Partial<MachineIdentitySpecInput>) => ({
    metadata: { name: 'web', namespace: 'team-a' },
    spec: MachineIdentitySpec.parse({ secretName: 'web-tls', authorityRef: { name: 'corp-ca' }, ...s }),
  });
  it('denies with the rule as reason and a message that says how to allow it', () => {
    const d = decideIdentity(mi({ dnsNames: ['kubernetes.default.svc'] }), [], opts());
    expect(d.verdict.allowed).toBe(false);
    expect(d.reason).toBe(Reason.NameNotOwned);
    expect(d.denial).toBe(
      'denied by the safe defaults: dnsNames[0] "kubernetes.default.svc" is not a name namespace "team-a" owns and no grant of ' +
        'CertificateAuthorityBinding "corp-ca" allows it (NameNotOwned); the security team can allow it with spec.grants of CertificateAuthorityBinding "corp-ca" (see docs/security.md)',
    );
  });
  it('isCA is refused without a grant, whatever policy.defaultAction says', () => {
    const d = decideIdentity(mi({ isCA: true, dnsNames: ['ca.team-a.svc'] }), [], {
      ...opts(),
      defaultAction: 'Allow',
    });
    expect(d.reason).toBe(Reason.CANotGranted);
  });
  it('allows owned names with no policy and no grant', () => {
    const d = decideIdentity(mi({ dnsNames: ['web.team-a.svc'] }), [], opts());
    expect(d.verdict.allowed).toBe(true);
    expect(d.reason).toBe('');
  });
  it('a binding that does not exist grants nothing', () => {
    expect(
      decideIdentity(mi({ ipAddresses: ['10.0.0.1'] }), [], opts({ name: 'gone', spec: {} } as never)).reason,
    ).toBe(Reason.NameNotOwned);
  });
  it('reason constants are the rule names', () => {
    expect(Reason.NameNotOwned).toBe(OwnershipRule.NameNotOwned);
    expect(Reason.PolicyDenied).toBe(
      decideIdentity(mi({ dnsNames: ['web.team-a.svc'] }), [], { ...opts(), defaultAction: 'Deny' }).reason,
    );
  });
});

describe('lifetime cap', () => {
  it("is the binding's maxDuration, else 2160h", () => {
    expect(lifetimeCapMs({ maxDuration: '24h' })).toBe(24 * 3_600_000);
    expect(lifetimeCapMs({})).toBe(2160 * 3_600_000);
  });
});

describe('CA name constraints', () => {
  it("cover the namespace's own subtrees and its granted suffixes; no URI, no IP without a grant", () => {
    const b = binding({
      grants: [
        {
          allowCA: true,
          dnsNames: ['*.{{namespace}}.example.com', 'api.example.com', 'a.*.example.com'],
          emailAddresses: ['*@example.com'],
        },
      ],
    });
    expect(caNameConstraints(b, scope())).toEqual({
      permittedDNS: [
        'team-a.svc',
        'team-a.svc.cluster.local',
        'team-a.pod.cluster.local',
        'team-a.example.com',
        'api.example.com',
      ],
      excludedDNS: [],
      permittedIP: [],
      excludedIP: ['0.0.0.0/0', '::/0'],
      permittedEmail: ['example.com'],
      permittedURI: ['invalid'],
    });
  });
  it("namespace default: the API server's names are excluded", () => {
    expect(caNameConstraints(binding({ grants: [{ allowCA: true }] }), scope('default')).excludedDNS).toEqual([
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ]);
  });
  it('granted CIDRs are permitted instead of excluding every address', () => {
    const c = caNameConstraints(binding({ grants: [{ allowCA: true, ipAddresses: ['10.0.0.0/8'] }] }), scope());
    expect(c.permittedIP).toEqual(['10.0.0.0/8']);
    expect(c.excludedIP).toEqual([]);
  });
});

describe('ownership is total over hostile input', () => {
  it("never throws, and never owns a name outside the namespace's subtrees without a grant", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 80 }), { maxLength: 4 }),
        fc.array(fc.string({ maxLength: 80 }), { maxLength: 3 }),
        fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
        (dnsNames, uris, cn) => {
          const r = {
            ...request({ dnsNames: ['web.team-a.svc'] }),
            dnsNames,
            uris,
            subject: { organizations: [], ...(cn === undefined ? {} : { commonName: cn }) },
          };
          const found = ownershipFindings(r, binding(), scope());
          dnsNames.forEach((n, i) => {
            const ok = !found.some((f) => f.field === `dnsNames[${i}]`);
            if (ok) expect(/(^|\.)team-a\.(svc|pod)(\.cluster\.local)?\.?$/i.test(n)).toBe(true);
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});
