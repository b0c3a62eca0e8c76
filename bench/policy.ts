// IssuancePolicy evaluation speed: one MachineIdentity against N compiled policies (default 100),
// many iterations, through decideIdentity: the same call the controller, the webhook and the CLI make. Pure CPU: the control plane the runner starts is not used. Params: policies=N iterations=M.
import { IssuancePolicySpec } from '../src/crds/issuance-policy.ts';
import { MachineIdentitySpec } from '../src/crds/machine-identity.ts';
import { compilePolicies } from '../src/policy/evaluate.ts';
import { decideIdentity } from '../src/policy/decide.ts';
import type { Bench } from './run.ts';

const pct = (xs: number[], p: number): number =>
  xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

function policySpecs(n: number): { name: string; spec: IssuancePolicySpec }[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `policy-${String(i).padStart(3, '0')}`,
    spec: IssuancePolicySpec.parse({
      enforcement: i % 4 === 0 ? 'Audit' : 'Enforce',
      // most policies select the request's namespace; some select other tiers or authorities
      selector: {
        namespaceSelector: { matchLabels: { tier: i % 5 === 0 ? 'dev' : 'prod' } },
        ...(i % 7 === 0 ? { authorities: ['other-ca'] } : {}),
      },
      rules: {
        allowedAuthorities: ['corp-ca', `ca-${i}`],
        privateKey: { allowedAlgorithms: ['ECDSA', 'RSA'], minRSASize: 3072, allowedECDSACurves: ['P-256', 'P-384'] },
        maxDuration: '2160h',
        minDuration: '1h',
        dnsNames: {
          allowed: [
            `*.team-${i}.example.com`,
            '*.{{namespace}}.svc',
            '*.{{namespace}}.svc.cluster.local',
            '*.example.com',
          ],
          allowWildcardCertificates: false,
        },
        ipAddresses: { allowedCIDRs: ['192.168.0.0/16', `10.${i % 256}.0.0/16`, '10.0.0.0/8', 'fd00::/8'] },
        uris: { allowed: [`spiffe://cluster.local/ns/team-${i}/*`, 'spiffe://cluster.local/ns/{{namespace}}/sa/*'] },
        emailAddresses: { allowed: ['*@example.com'] },
        subject: { allowedOrganizations: ['Example'] },
        usages: { allowed: ['serverAuth', 'clientAuth', 'digitalSignature', 'keyEncipherment'] },
        allowCA: false,
        requireOwner: true,
      },
    }),
  }));
}

const identity = {
  metadata: { namespace: 'payments', name: 'api', labels: { app: 'api' } },
  spec: MachineIdentitySpec.parse({
    secretName: 'api-tls',
    authorityRef: { name: 'corp-ca' },
    owner: { team: 'payments' },
    subject: { commonName: 'api', organizations: ['Example'] },
    dnsNames: ['api.payments.svc', 'api.payments.svc.cluster.local', 'payments.example.com'],
    ipAddresses: ['10.0.0.10', 'fd00::10'],
    uris: ['spiffe://cluster.local/ns/payments/sa/api'],
    emailAddresses: ['ops@example.com'],
    usages: ['serverAuth', 'clientAuth'],
    privateKey: { algorithm: 'ECDSA' },
  }),
};

const bench: Bench = {
  description: 'IssuancePolicy evaluation: one identity against N compiled policies',
  run({ params, log }) {
    const n = Number(params.policies ?? 100),
      iterations = Number(params.iterations ?? 20_000);
    const t0 = performance.now();
    const policies = compilePolicies(policySpecs(n));
    const compileMs = performance.now() - t0;
    // the binding grants what the identity asks beyond its own names, so the safe defaults are evaluated and pass
    const binding = {
      name: 'corp-ca',
      spec: {
        grants: [
          {
            dnsNames: ['payments.example.com'],
            ipAddresses: ['10.0.0.0/8', 'fd00::/8'],
            emailAddresses: ['*@example.com'],
            allowWildcards: false,
            allowCA: false,
          },
        ],
      },
    };
    const opts = {
      namespaceLabels: { tier: 'prod' },
      defaultAction: 'Deny' as const,
      ownership: { binding, clusterDomain: 'cluster.local' },
    };
    let sink = 0;
    for (let i = 0; i < 2_000; i++) sink += decideIdentity(identity, policies, opts).verdict.violations.length; // warm-up
    const lat: number[] = new Array<number>(iterations);
    const start = performance.now();
    for (let i = 0; i < iterations; i++) {
      const t = performance.now();
      sink += decideIdentity(identity, policies, opts).verdict.violations.length;
      lat[i] = performance.now() - t;
    }
    const totalMs = performance.now() - start;
    const v = decideIdentity(identity, policies, opts).verdict;
    log(
      `${v.matchedPolicies.length}/${n} policies matched, allowed=${v.allowed}, violations=${v.violations.length} (sink ${sink})`,
    );
    return Promise.resolve({
      policies: n,
      matched: v.matchedPolicies.length,
      iterations,
      compile_ms: compileMs.toFixed(1),
      evaluations_per_second: Math.round(iterations / (totalMs / 1000)),
      mean_us: ((totalMs / iterations) * 1000).toFixed(1),
      p50_us: (pct(lat, 0.5) * 1000).toFixed(1),
      p99_us: (pct(lat, 0.99) * 1000).toFixed(1),
    });
  },
};
export default bench;
