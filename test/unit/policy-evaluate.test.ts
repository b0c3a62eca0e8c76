import { describe, it, expect } from '@jest/globals';
import type { KeyObject } from 'node:crypto';
import { IssuancePolicySpec } from '../../src/crds/issuance-policy.ts';
import type { IssuancePolicySpecInput } from '../../src/crds/issuance-policy.ts';
import { MachineIdentitySpec } from '../../src/crds/machine-identity.ts';
import type { MachineIdentitySpecInput } from '../../src/crds/machine-identity.ts';
import type { CertFacts } from '../../src/pki/certs.ts';
import {
  auditMessage,
  compilePolicies,
  denialMessage,
  evaluate,
  evaluateCertificate,
  selectPolicies,
} from '../../src/policy/evaluate.ts';
import type { CompiledPolicy } from '../../src/policy/evaluate.ts';
import { certificateFromFacts, organizationsOf, requestFromMachineIdentity } from '../../src/policy/types.ts';
import type { IdentityRequest } from '../../src/policy/types.ts';
import { contractIssuancePolicySpec } from '../fixtures/contract.ts';

const policy = (name: string, spec: IssuancePolicySpecInput): CompiledPolicy[] =>
  compilePolicies([{ name, spec: IssuancePolicySpec.parse(spec) }]);

function mi(
  spec: Partial<MachineIdentitySpecInput> = {},
  meta: { labels?: Record<string, string>; namespace?: string } = {},
): IdentityRequest {
  return requestFromMachineIdentity({
    metadata: { name: 'api', namespace: meta.namespace ?? 'payments', labels: meta.labels ?? { app: 'api' } },
    spec: MachineIdentitySpec.parse({
      secretName: 'api-tls',
      authorityRef: { name: 'corp-ca' },
      dnsNames: ['api.payments.svc'],
      ...spec,
    }),
  });
}

const prod = { tier: 'prod' };

describe('requestFromMachineIdentity', () => {
  it('applies defaults and copies the fields the rules look at', () => {
    const r = mi({
      owner: { team: 'payments' },
      subject: { commonName: 'api', organizations: ['Example'] },
      privateKey: { algorithm: 'RSA' },
    });
    expect(r).toEqual({
      namespace: 'payments',
      name: 'api',
      labels: { app: 'api' },
      authority: 'corp-ca',
      subject: { commonName: 'api', organizations: ['Example'] },
      dnsNames: ['api.payments.svc'],
      ipAddresses: [],
      uris: [],
      emailAddresses: [],
      usages: ['serverAuth'],
      isCA: false,
      key: { algorithm: 'RSA', size: 2048 },
      durationMs: 2160 * 3_600_000,
      ownerTeam: 'payments',
    });
  });
  it('defaults an ECDSA key to 256 and keeps Ed25519 sizeless', () => {
    expect(mi().key).toEqual({ algorithm: 'ECDSA', size: 256 });
    expect(mi({ privateKey: { algorithm: 'Ed25519' } }).key).toEqual({ algorithm: 'Ed25519' });
  });
});

describe('certificateFromFacts', () => {
  const facts: CertFacts = {
    serialNumber: '1',
    fingerprintSHA256: 'AA',
    subjectDN: 'CN=legacy,O=Example\\, Inc.,O=Ops+OU=x,C=DE',
    issuerDN: 'CN=legacy',
    commonName: 'legacy',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
    isCA: false,
    publicKey: {} as KeyObject,
    keyAlgorithm: 'RSA',
    keySize: 2048,
    keyUsage: ['digitalSignature'],
    extKeyUsage: ['serverAuth'],
    signatureAlgorithm: 'SHA1WithRSA',
    selfSigned: true,
    dnsNames: ['legacy.payments.svc'],
    ipAddresses: [],
    uris: [],
    emailAddresses: [],
  };
  it('maps facts and location', () => {
    const c = certificateFromFacts(facts, {
      namespace: 'payments',
      kind: 'Secret',
      name: 'legacy',
      dataKey: 'tls.crt',
    });
    expect(c).toMatchObject({
      namespace: 'payments',
      kind: 'Secret',
      name: 'legacy',
      dataKey: 'tls.crt',
      subject: { commonName: 'legacy', organizations: ['Example, Inc.', 'Ops'] },
      usages: ['digitalSignature', 'serverAuth'],
      key: { algorithm: 'RSA', size: 2048 },
      lifetimeMs: 365 * 86_400_000,
      selfSigned: true,
      signatureAlgorithm: 'SHA1WithRSA',
      issuer: 'CN=legacy',
    });
  });
  it('finds O attributes in RFC 4514 strings', () => {
    expect(organizationsOf('CN=a,O=b')).toEqual(['b']);
    expect(organizationsOf('o=lower,CN=x\\,O=fake')).toEqual(['lower']);
    expect(organizationsOf('')).toEqual([]);
  });
});

describe('selectPolicies', () => {
  const all = compilePolicies([
    { name: 'everything', spec: IssuancePolicySpec.parse({ rules: {} }) },
    {
      name: 'prod-ns',
      spec: IssuancePolicySpec.parse({ selector: { namespaceSelector: { matchLabels: prod } }, rules: {} }),
    },
    {
      name: 'by-name',
      spec: IssuancePolicySpec.parse({
        selector: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'payments' } } },
        rules: {},
      }),
    },
    {
      name: 'app-api',
      spec: IssuancePolicySpec.parse({ selector: { identitySelector: { matchLabels: { app: 'api' } } }, rules: {} }),
    },
    { name: 'corp-ca-only', spec: IssuancePolicySpec.parse({ selector: { authorities: ['corp-ca'] }, rules: {} }) },
    { name: 'other-ca-only', spec: IssuancePolicySpec.parse({ selector: { authorities: ['other-ca'] }, rules: {} }) },
    { name: 'empty-authorities', spec: IssuancePolicySpec.parse({ selector: { authorities: [] }, rules: {} }) },
    {
      name: 'empty-selectors',
      spec: IssuancePolicySpec.parse({ selector: { namespaceSelector: {}, identitySelector: {} }, rules: {} }),
    },
  ]);
  const names = (
    labels: Record<string, string>,
    nsLabels: Record<string, string>,
    authority?: string,
    namespace = 'payments',
  ): string[] =>
    selectPolicies(
      all,
      authority === undefined ? { namespace, labels } : { namespace, labels, authority },
      nsLabels,
    ).map((p) => p.name);

  const cases: [string, Record<string, string>, Record<string, string>, string | undefined, string, string[]][] = [
    [
      'prod namespace, app label, corp-ca',
      { app: 'api' },
      prod,
      'corp-ca',
      'payments',
      ['app-api', 'by-name', 'corp-ca-only', 'empty-authorities', 'empty-selectors', 'everything', 'prod-ns'],
    ],
    [
      'dev namespace, no labels, other-ca',
      {},
      { tier: 'dev' },
      'other-ca',
      'billing',
      ['empty-authorities', 'empty-selectors', 'everything', 'other-ca-only'],
    ],
    [
      'no authority (discovered certificate) skips authority-scoped policies',
      {},
      {},
      undefined,
      'billing',
      ['empty-authorities', 'empty-selectors', 'everything'],
    ],
    [
      'caller-supplied metadata.name label wins',
      {},
      { 'kubernetes.io/metadata.name': 'other' },
      'x',
      'payments',
      ['empty-authorities', 'empty-selectors', 'everything'],
    ],
  ];
  it.each(cases)('%s', (_n, labels, nsLabels, authority, ns, want) =>
    expect(names(labels, nsLabels, authority, ns)).toEqual(want),
  );
});

// the contract's production-baseline rules, with this file's CA name, selecting only by namespace
const baseline: IssuancePolicySpecInput = {
  enforcement: 'Enforce',
  selector: { namespaceSelector: { matchLabels: prod } },
  rules: { ...contractIssuancePolicySpec().rules, allowedAuthorities: ['corp-ca'] },
};

describe('evaluate', () => {
  const policies = compilePolicies([
    { name: 'production-baseline', spec: IssuancePolicySpec.parse(baseline) },
    { name: 'audit-short', spec: IssuancePolicySpec.parse({ enforcement: 'Audit', rules: { maxDuration: '720h' } }) },
  ]);
  const good: Partial<MachineIdentitySpecInput> = {
    owner: { team: 'payments' },
    dnsNames: ['api.payments.svc', 'pay.example.com'],
  };

  it('allows a compliant request and reports the Audit finding', () => {
    const v = evaluate(mi(good), policies, { namespaceLabels: prod });
    expect(v.allowed).toBe(true);
    expect(v.compliant).toBe(false);
    expect(v.matchedPolicies).toEqual(['audit-short', 'production-baseline']);
    expect(v.denied).toEqual([]);
    expect(v.audited.map((x) => x.rule)).toEqual(['maxDuration']);
    expect(v.defaultApplied).toBeUndefined();
    expect(denialMessage(v)).toBe('');
    expect(auditMessage(v)).toBe(
      'audit: violates IssuancePolicy audit-short: duration "2160h" exceeds maxDuration 720h',
    );
  });
  it('denies with the contract message', () => {
    const v = evaluate(mi({ ...good, dnsNames: ['api.payments.svc', 'evil.com'] }), policies, {
      namespaceLabels: prod,
    });
    expect(v.allowed).toBe(false);
    expect(v.denied).toEqual([
      {
        policy: 'production-baseline',
        enforcement: 'Enforce',
        rule: 'dnsNames.allowed',
        field: 'dnsNames[1]',
        value: 'evil.com',
        message: 'dnsNames[1] "evil.com" matches none of *.payments.svc, *.example.com',
      },
    ]);
    expect(denialMessage(v)).toBe(
      'denied by IssuancePolicy production-baseline: dnsNames[1] "evil.com" matches none of *.payments.svc, *.example.com',
    );
  });
  it('joins several violations with "; "', () => {
    const v = evaluate(mi({ dnsNames: ['*.example.com'], isCA: true, usages: ['certSign'] }), policies, {
      namespaceLabels: prod,
    });
    expect(v.denied.map((x) => x.rule)).toEqual([
      'dnsNames.allowWildcardCertificates',
      'usages.allowed',
      'allowCA',
      'requireOwner',
    ]);
    expect(denialMessage(v)).toBe(
      'denied by IssuancePolicy production-baseline: dnsNames[0] "*.example.com" is a wildcard name and ' +
        'allowWildcardCertificates is false; usages[0] "certSign" is not one of serverAuth, clientAuth, digitalSignature, keyEncipherment; ' +
        'isCA true is not allowed (allowCA is false); owner.team is required',
    );
  });
  it('does not apply policies whose selector does not match', () => {
    const v = evaluate(mi({ dnsNames: ['evil.com'] }), policies, { namespaceLabels: { tier: 'dev' } });
    expect(v.allowed).toBe(true);
    expect(v.matchedPolicies).toEqual(['audit-short']);
    expect(v.defaultApplied).toBe('Allow');
  });
  it('one Enforce denial denies even when another Enforce policy allows', () => {
    const two = compilePolicies([
      { name: 'lenient', spec: IssuancePolicySpec.parse({ rules: {} }) },
      { name: 'strict', spec: IssuancePolicySpec.parse({ rules: { allowCA: false } }) },
    ]);
    const v = evaluate(mi({ isCA: true }), two, { namespaceLabels: {} });
    expect(v.allowed).toBe(false);
    expect(denialMessage(v)).toBe('denied by IssuancePolicy strict: isCA true is not allowed (allowCA is false)');
  });
  it('groups violations of several policies', () => {
    const two = compilePolicies([
      { name: 'a', spec: IssuancePolicySpec.parse({ rules: { allowCA: false } }) },
      { name: 'b', spec: IssuancePolicySpec.parse({ rules: { requireOwner: true, allowCA: false } }) },
    ]);
    expect(denialMessage(evaluate(mi({ isCA: true }), two, { namespaceLabels: {} }))).toBe(
      'denied by IssuancePolicy a: isCA true is not allowed (allowCA is false); denied by IssuancePolicy b: isCA true is not allowed ' +
        '(allowCA is false); owner.team is required',
    );
  });
  it('caps long denial messages', () => {
    const names = Array.from({ length: 15 }, (_, i) => `n${i}.evil.com`);
    const m = denialMessage(
      evaluate(mi({ dnsNames: names }), policy('p', { rules: { dnsNames: { allowed: ['*.example.com'] } } }), {
        namespaceLabels: {},
      }),
    );
    expect(m).toMatch(/; and 5 more violations$/);
  });

  describe('default action', () => {
    const cases: [string, CompiledPolicy[], 'Allow' | 'Deny' | undefined, boolean, 'Allow' | 'Deny' | undefined][] = [
      ['no policies, default Allow', [], 'Allow', true, 'Allow'],
      ['no policies, default unset is Allow', [], undefined, true, 'Allow'],
      ['no policies, default Deny', [], 'Deny', false, 'Deny'],
      [
        'only an Audit policy selects, default Deny',
        policy('a', { enforcement: 'Audit', rules: {} }),
        'Deny',
        false,
        'Deny',
      ],
      ['an allowing Enforce policy selects, default Deny', policy('e', { rules: {} }), 'Deny', true, undefined],
      [
        'an Enforce policy for another namespace, default Deny',
        policy('e', { selector: { namespaceSelector: { matchLabels: prod } }, rules: {} }),
        'Deny',
        false,
        'Deny',
      ],
    ];
    it.each(cases)('%s', (_n, ps, defaultAction, allowed, applied) => {
      const v = evaluate(
        mi(),
        ps,
        defaultAction === undefined ? { namespaceLabels: {} } : { namespaceLabels: {}, defaultAction },
      );
      expect(v.allowed).toBe(allowed);
      expect(v.defaultApplied).toBe(applied);
    });
    it('explains a Deny default', () => {
      expect(denialMessage(evaluate(mi(), [], { namespaceLabels: {}, defaultAction: 'Deny' }))).toBe(
        'denied: no Enforce IssuancePolicy selects MachineIdentity payments/api (authority corp-ca) and policy.defaultAction is Deny',
      );
    });
  });

  it('reuses compiled policies across evaluations and namespaces', () => {
    const ps = policy('ns', { rules: { dnsNames: { allowed: ['*.{{namespace}}.svc'] } } });
    expect(evaluate(mi({ dnsNames: ['a.payments.svc'] }), ps, { namespaceLabels: {} }).allowed).toBe(true);
    expect(
      evaluate(mi({ dnsNames: ['a.payments.svc'] }, { namespace: 'billing' }), ps, { namespaceLabels: {} }).allowed,
    ).toBe(false);
    expect(
      evaluate(mi({ dnsNames: ['a.billing.svc'] }, { namespace: 'billing' }), ps, { namespaceLabels: {} }).allowed,
    ).toBe(true);
  });
});

describe('evaluateCertificate', () => {
  const ps = compilePolicies([{ name: 'production-baseline', spec: IssuancePolicySpec.parse(baseline) }]);
  const facts: CertFacts = {
    serialNumber: '1',
    fingerprintSHA256: 'AA',
    subjectDN: 'CN=legacy',
    issuerDN: 'CN=legacy',
    commonName: 'legacy',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2026-02-01T00:00:00Z'),
    isCA: false,
    publicKey: {} as KeyObject,
    keyAlgorithm: 'ECDSA',
    keySize: 256,
    keyUsage: ['digitalSignature'],
    extKeyUsage: ['serverAuth'],
    signatureAlgorithm: 'SHA1WithRSA',
    selfSigned: true,
    dnsNames: ['legacy.payments.svc'],
    ipAddresses: [],
    uris: [],
    emailAddresses: [],
  };
  it('reports discovered-only rules without denying', () => {
    const c = certificateFromFacts(facts, {
      namespace: 'payments',
      kind: 'Secret',
      name: 'legacy',
      dataKey: 'tls.crt',
      authority: 'corp-ca',
    });
    const v = evaluateCertificate(c, ps, { namespaceLabels: prod });
    expect(v.allowed).toBe(true);
    expect(v.compliant).toBe(false);
    expect(v.violations.map((x) => x.rule)).toEqual(['forbidSelfSigned', 'allowedSignatureAlgorithms']);
    expect(v.denied).toHaveLength(2);
  });
  it('a compliant certificate', () => {
    const c = certificateFromFacts(
      { ...facts, selfSigned: false, signatureAlgorithm: 'ECDSAWithSHA256' },
      { namespace: 'payments', kind: 'Secret', name: 'ok', dataKey: 'tls.crt', authority: 'corp-ca' },
    );
    expect(evaluateCertificate(c, ps, { namespaceLabels: prod })).toMatchObject({
      compliant: true,
      matchedPolicies: ['production-baseline'],
    });
  });
  it('is not selected outside the policy namespaces', () => {
    const c = certificateFromFacts(facts, { namespace: 'dev', kind: 'ConfigMap', name: 'x', dataKey: 'ca.crt' });
    expect(evaluateCertificate(c, ps, { namespaceLabels: {} })).toMatchObject({ compliant: true, matchedPolicies: [] });
  });
});
