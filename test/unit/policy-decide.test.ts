import { describe, it, expect } from '@jest/globals';
import { IssuancePolicySpec } from '../../src/crds/issuance-policy.ts';
import type { IssuancePolicySpecInput } from '../../src/crds/issuance-policy.ts';
import { MachineIdentitySpec } from '../../src/crds/machine-identity.ts';
import type { MachineIdentitySpecInput } from '../../src/crds/machine-identity.ts';
import { compilePolicies } from '../../src/policy/evaluate.ts';
import type { CompiledPolicy } from '../../src/policy/evaluate.ts';
import { resolveDefaults } from '../../src/policy/resolve.ts';
import { certificateFindings, decideIdentity } from '../../src/policy/decide.ts';
import type { DiscoveredCertificate } from '../../src/policy/types.ts';

const H = 3_600_000;
const compile = (...specs: IssuancePolicySpecInput[]): CompiledPolicy[] =>
  compilePolicies(specs.map((spec, i) => ({ name: `p${i}`, spec: IssuancePolicySpec.parse(spec) })));
const spec = (s: Partial<MachineIdentitySpecInput> = {}): MachineIdentitySpec =>
  MachineIdentitySpec.parse({
    secretName: 'api-tls',
    authorityRef: { name: 'corp-ca' },
    dnsNames: ['api.payments.svc'],
    ...s,
  });
// the identities ask for names namespace payments owns: the safe defaults pass, so these tests see the policies alone
const opts = {
  namespaceLabels: {},
  ownership: { binding: { name: 'corp-ca', spec: {} }, clusterDomain: 'cluster.local' },
};

describe('resolveDefaults', () => {
  const rows: {
    name: string;
    s: Partial<MachineIdentitySpecInput>;
    policies: IssuancePolicySpecInput[];
    duration: string;
    keySize?: number;
    byPolicy: boolean;
  }[] = [
    { name: 'no policy: 2160h, P-256', s: {}, policies: [], duration: '2160h', keySize: 256, byPolicy: false },
    {
      name: 'maxDuration caps an unset duration',
      s: {},
      policies: [{ rules: { maxDuration: '720h' } }],
      duration: '720h',
      keySize: 256,
      byPolicy: true,
    },
    {
      name: 'the tightest of two caps wins',
      s: {},
      policies: [{ rules: { maxDuration: '720h' } }, { rules: { maxDuration: '24h' } }],
      duration: '24h',
      keySize: 256,
      byPolicy: true,
    },
    {
      name: 'a cap above the default changes nothing',
      s: {},
      policies: [{ rules: { maxDuration: '8760h' } }],
      duration: '2160h',
      keySize: 256,
      byPolicy: false,
    },
    {
      name: 'an explicit duration is never changed',
      s: { duration: '4320h' },
      policies: [{ rules: { maxDuration: '720h' } }],
      duration: '4320h',
      keySize: 256,
      byPolicy: false,
    },
    {
      name: 'two policies whose bounds conflict: the floor, and evaluation reports the cap',
      s: {},
      policies: [{ rules: { maxDuration: '24h' } }, { rules: { minDuration: '48h' } }],
      duration: '48h',
      keySize: 256,
      byPolicy: true,
    },
    {
      name: 'minDuration raises a cap below it',
      s: {},
      policies: [{ rules: { maxDuration: '720h', minDuration: '1h' } }],
      duration: '720h',
      keySize: 256,
      byPolicy: true,
    },
    {
      name: 'RSA unset size rises to minRSASize',
      s: { privateKey: { algorithm: 'RSA' } },
      policies: [{ rules: { privateKey: { minRSASize: 3072 } } }],
      duration: '2160h',
      keySize: 3072,
      byPolicy: true,
    },
    {
      name: 'RSA minRSASize between sizes rounds up',
      s: { privateKey: { algorithm: 'RSA' } },
      policies: [{ rules: { privateKey: { minRSASize: 2500 } } }],
      duration: '2160h',
      keySize: 3072,
      byPolicy: true,
    },
    {
      name: 'RSA explicit size kept',
      s: { privateKey: { algorithm: 'RSA', size: 2048 } },
      policies: [{ rules: { privateKey: { minRSASize: 3072 } } }],
      duration: '2160h',
      keySize: 2048,
      byPolicy: false,
    },
    {
      name: 'RSA impossible minimum keeps the default',
      s: { privateKey: { algorithm: 'RSA' } },
      policies: [{ rules: { privateKey: { minRSASize: 8192 } } }],
      duration: '2160h',
      keySize: 2048,
      byPolicy: false,
    },
    {
      name: 'ECDSA picks the first allowed curve',
      s: {},
      policies: [{ rules: { privateKey: { allowedECDSACurves: ['P-384', 'P-521'] } } }],
      duration: '2160h',
      keySize: 384,
      byPolicy: true,
    },
    {
      name: 'ECDSA curves of two policies intersect',
      s: {},
      policies: [
        { rules: { privateKey: { allowedECDSACurves: ['P-384', 'P-521'] } } },
        { rules: { privateKey: { allowedECDSACurves: ['P-521'] } } },
      ],
      duration: '2160h',
      keySize: 521,
      byPolicy: true,
    },
    {
      name: 'Ed25519 has no size',
      s: { privateKey: { algorithm: 'Ed25519' } },
      policies: [{ rules: { privateKey: { minRSASize: 4096 } } }],
      duration: '2160h',
      byPolicy: false,
    },
  ];
  it.each(rows)('$name', ({ s, policies, duration, keySize, byPolicy }) => {
    const r = resolveDefaults(spec(s), compile(...policies));
    expect(r.duration).toBe(duration);
    expect(r.keySize).toBe(keySize);
    expect(r.byPolicy).toBe(byPolicy);
  });
});

describe('decideIdentity', () => {
  it('evaluates the request with resolved defaults: an unset duration complies with maxDuration', () => {
    const d = decideIdentity(
      { metadata: { name: 'api', namespace: 'payments' }, spec: spec() },
      compile({ rules: { maxDuration: '720h' } }),
      opts,
    );
    expect(d.verdict.allowed).toBe(true);
    expect(d.request.durationMs).toBe(720 * H);
    expect(d.denial).toBe('');
  });
  it('an explicit duration over maxDuration is denied with the contract message', () => {
    const d = decideIdentity(
      { metadata: { name: 'api', namespace: 'payments' }, spec: spec({ duration: '2160h' }) },
      compile({ rules: { maxDuration: '720h' } }),
      opts,
    );
    expect(d.verdict.allowed).toBe(false);
    expect(d.denial).toBe('denied by IssuancePolicy p0: duration "2160h" exceeds maxDuration 720h');
  });
  it('an unset RSA size complies with minRSASize; an explicit small one is denied', () => {
    const policies = compile({ rules: { privateKey: { minRSASize: 3072 } } });
    const ok = decideIdentity(
      { metadata: { name: 'a', namespace: 'payments' }, spec: spec({ privateKey: { algorithm: 'RSA' } }) },
      policies,
      opts,
    );
    expect(ok.verdict.allowed).toBe(true);
    expect(ok.request.key).toEqual({ algorithm: 'RSA', size: 3072 });
    const no = decideIdentity(
      { metadata: { name: 'a', namespace: 'payments' }, spec: spec({ privateKey: { algorithm: 'RSA', size: 2048 } }) },
      policies,
      opts,
    );
    expect(no.denial).toMatch(/privateKey.size "2048" is below minRSASize 3072/);
  });
  it('audit findings issue and carry a message', () => {
    const d = decideIdentity(
      { metadata: { name: 'a', namespace: 'payments' }, spec: spec() },
      compile({ enforcement: 'Audit', rules: { dnsNames: { allowed: ['*.example.com'] } } }),
      opts,
    );
    expect(d.verdict.allowed).toBe(true);
    expect(d.audit).toBe(
      'audit: violates IssuancePolicy p0: dnsNames[0] "api.payments.svc" matches none of *.example.com',
    );
  });
});

describe('certificateFindings (remediation)', () => {
  const cert = (patch: Partial<DiscoveredCertificate> = {}): DiscoveredCertificate => ({
    namespace: 'payments',
    kind: 'Secret',
    name: 'api-tls',
    dataKey: 'tls.crt',
    labels: {},
    authority: 'corp-ca',
    subject: { organizations: [] },
    dnsNames: ['api.payments.svc'],
    ipAddresses: [],
    uris: [],
    emailAddresses: [],
    usages: ['digitalSignature', 'serverAuth'],
    isCA: false,
    key: { algorithm: 'ECDSA', size: 256 },
    signatureAlgorithm: 'ECDSAWithSHA256',
    selfSigned: false,
    lifetimeMs: 2160 * H + 60_000,
    issuer: 'CN=Corp CA',
    ...patch,
  });
  const rows: {
    name: string;
    s?: Partial<MachineIdentitySpecInput>;
    policy: IssuancePolicySpecInput;
    c?: Partial<DiscoveredCertificate>;
    issuedFor?: number;
    violations: number;
    remediable: string[];
  }[] = [
    {
      name: 'compliant certificate',
      policy: { remediation: 'Reissue', rules: { maxDuration: '8760h' } },
      issuedFor: 2160 * H,
      violations: 0,
      remediable: [],
    },
    {
      name: 'policy shortened maxDuration; unset spec duration complies: reissue',
      policy: { remediation: 'Reissue', rules: { maxDuration: '720h' } },
      issuedFor: 2160 * H,
      violations: 1,
      remediable: ['maxDuration'],
    },
    {
      name: 'same, but remediation None: report only',
      policy: { rules: { maxDuration: '720h' } },
      issuedFor: 2160 * H,
      violations: 1,
      remediable: [],
    },
    {
      name: 'explicit spec duration violates: reported, not touched',
      s: { duration: '2160h' },
      policy: { remediation: 'Reissue', enforcement: 'Audit', rules: { maxDuration: '720h' } },
      issuedFor: 2160 * H,
      violations: 1,
      remediable: [],
    },
    {
      name: 'already issued for the compliant duration (the CA ignores it): no loop',
      policy: { remediation: 'Reissue', rules: { maxDuration: '720h' } },
      issuedFor: 720 * H,
      violations: 1,
      remediable: [],
    },
    {
      name: 'minRSASize raised; unset RSA size: reissue',
      s: { privateKey: { algorithm: 'RSA' } },
      policy: { remediation: 'Reissue', rules: { privateKey: { minRSASize: 3072 } } },
      c: { key: { algorithm: 'RSA', size: 2048 } },
      issuedFor: 2160 * H,
      violations: 1,
      remediable: ['privateKey.minRSASize'],
    },
    {
      name: 'curve no longer allowed; unset size: reissue',
      policy: { remediation: 'Reissue', rules: { privateKey: { allowedECDSACurves: ['P-384'] } } },
      issuedFor: 2160 * H,
      violations: 1,
      remediable: ['privateKey.allowedECDSACurves'],
    },
    {
      name: "signature algorithm is the CA's choice: never remediated",
      policy: { remediation: 'Reissue', rules: { allowedSignatureAlgorithms: ['ECDSAWithSHA384'] } },
      issuedFor: 2160 * H,
      violations: 1,
      remediable: [],
    },
    {
      name: 'self-signed authority under forbidSelfSigned: never remediated',
      policy: { remediation: 'Reissue', rules: { forbidSelfSigned: true } },
      c: { selfSigned: true },
      issuedFor: 2160 * H,
      violations: 1,
      remediable: [],
    },
    {
      name: 'usages added by the CA: never remediated',
      policy: { remediation: 'Reissue', rules: { usages: { allowed: ['serverAuth'] } } },
      issuedFor: 2160 * H,
      violations: 1,
      remediable: [],
    },
    {
      name: 'policy for another authority does not apply',
      policy: { remediation: 'Reissue', selector: { authorities: ['other'] }, rules: { maxDuration: '720h' } },
      issuedFor: 2160 * H,
      violations: 0,
      remediable: [],
    },
  ];
  it.each(rows)('$name', ({ s, policy, c, issuedFor, violations, remediable }) => {
    const policies = compile(policy);
    const d = decideIdentity({ metadata: { name: 'api', namespace: 'payments' }, spec: spec(s) }, policies, opts);
    const f = certificateFindings(cert(c), d, policies, opts, issuedFor);
    expect(f.violations).toHaveLength(violations);
    expect(f.remediable.map((v) => v.rule)).toEqual(remediable);
    if (violations > 0) expect(f.message).toMatch(/^the current certificate violates IssuancePolicy p0: /);
  });
});
