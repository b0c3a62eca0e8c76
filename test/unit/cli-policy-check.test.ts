import { describe, it, expect, beforeAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = join(import.meta.dirname, '../../src/cli/main.ts');
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

let dir = '';
const policy = `apiVersion: machineidentity.io/v1alpha1
kind: IssuancePolicy
metadata: { name: prod-names }
spec:
  selector: { namespaceSelector: { matchLabels: { tier: prod } } }
  rules: { dnsNames: { allowed: ["*.{{namespace}}.svc"] } }
`;
const mi = (name: string, ns: string, dns: string, extra = ''): string => `apiVersion: machineidentity.io/v1alpha1
kind: MachineIdentity
metadata: { name: ${name}, namespace: ${ns} }
spec: { secretName: ${name}-tls, authorityRef: { name: ca }, dnsNames: ["${dns}"]${extra} }
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mio-cli-'));
  mkdirSync(join(dir, 'policies'));
  mkdirSync(join(dir, 'apps', 'nested'), { recursive: true });
  writeFileSync(join(dir, 'policies', 'prod.yaml'), policy);
  // the binding's grants let namespaces hold names under example.com (the safe defaults deny them otherwise)
  writeFileSync(
    join(dir, 'policies', 'binding.yaml'),
    'apiVersion: machineidentity.io/v1alpha1\nkind: CertificateAuthorityBinding\nmetadata: { name: ca }\n' +
      'spec: { ca: { secretRef: { name: ca } }, grants: [ { dnsNames: ["*.example.com", "*.*.example.com"] } ] }\n',
  );
  writeFileSync(
    join(dir, 'apps', 'ns.yaml'),
    'apiVersion: v1\nkind: Namespace\nmetadata: { name: payments, labels: { tier: prod } }\n',
  );
  writeFileSync(join(dir, 'apps', 'ok.yaml'), mi('api', 'payments', 'api.payments.svc'));
  writeFileSync(
    join(dir, 'apps', 'nested', 'list.json'),
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'MachineIdentity',
          metadata: { name: 'web', namespace: 'payments' },
          spec: { secretName: 'web-tls', authorityRef: { name: 'ca' }, dnsNames: ['web.payments.example.com'] },
        },
      ],
    }),
  );
  writeFileSync(join(dir, 'apps', 'README.md'), '# not a manifest');
  mkdirSync(join(dir, 'clean'));
  writeFileSync(
    join(dir, 'clean', 'ok.yaml'),
    `${mi('api', 'payments', 'api.payments.svc')}---\n${mi('dev', 'sandbox', 'anything.example.com')}`,
  );
  writeFileSync(join(dir, 'garbage.yaml'), 'kind: [unclosed\n  : : :');
  writeFileSync(join(dir, 'invalid.yaml'), mi('bad', 'payments', 'api.payments.svc', ', bogusField: 1'));
});

describe('kubectl mi policy check', () => {
  it('walks directories (YAML, JSON, List), uses Namespace labels, exits 1 on an Enforce denial', async () => {
    const r = await cli(['policy', 'check', '-f', join(dir, 'apps'), '--policies', join(dir, 'policies')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^OK {6}payments\/api \(.*ok\.yaml#1\): complies with IssuancePolicy prod-names$/m);
    expect(r.stdout).toMatch(
      /^DENIED {2}payments\/web \(.*list\.json#1\): denied by IssuancePolicy prod-names: dnsNames\[0\] "web.payments.example.com" matches none of \*\.payments\.svc$/m,
    );
    expect(r.stdout).toMatch(
      /^2 MachineIdentities checked against 1 IssuancePolicies: 1 denied, 0 invalid, 0 with audit findings, 1 compliant$/m,
    );
  });

  it('exits 0 when nothing is denied; -o json gives the verdicts', async () => {
    const r = await cli([
      'policy',
      'check',
      '-f',
      join(dir, 'clean'),
      '-f',
      join(dir, 'apps', 'ns.yaml'),
      '--policies',
      join(dir, 'policies'),
      '-o',
      'json',
    ]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      policies: string[];
      results: { name: string; verdict: string; compliant: boolean; matchedPolicies: string[] }[];
    };
    expect(report.policies).toEqual(['prod-names']);
    expect(report.results.map((x) => [x.name, x.verdict, x.compliant, x.matchedPolicies])).toEqual([
      ['api', 'allowed', true, ['prod-names']],
      ['dev', 'allowed', true, []],
    ]);
  });

  it("the safe defaults apply offline too: without the binding's grant a foreign name is denied (NameNotOwned)", async () => {
    const r = await cli([
      'policy',
      'check',
      '-f',
      join(dir, 'clean'),
      '-f',
      join(dir, 'apps', 'ns.yaml'),
      '--policies',
      join(dir, 'policies', 'prod.yaml'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^DENIED {2}sandbox\/dev .*denied by the safe defaults: dnsNames\[0\] "anything.example.com" is not a name namespace "sandbox" owns .*\(NameNotOwned\)/m,
    );
  });

  it('--default-action Deny refuses what no Enforce policy selects', async () => {
    const r = await cli([
      'policy',
      'check',
      '-f',
      join(dir, 'clean'),
      '--policies',
      join(dir, 'policies'),
      '--default-action',
      'Deny',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'denied: no Enforce IssuancePolicy selects MachineIdentity sandbox/dev (authority ca) and policy.defaultAction is Deny',
    );
  });

  it('reports unreadable files and manifests the API server would reject, and exits 1', async () => {
    const r = await cli([
      'policy',
      'check',
      '-f',
      join(dir, 'garbage.yaml'),
      '-f',
      join(dir, 'invalid.yaml'),
      '-f',
      join(dir, 'missing'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ERROR {3}.*garbage\.yaml: /m);
    expect(r.stdout).toMatch(/^ERROR {3}.*missing: ENOENT/m);
    expect(r.stdout).toMatch(/^INVALID payments\/bad .*spec\.bogusField: unknown field/m);
  });

  it('usage errors exit 2', async () => {
    expect((await cli(['policy', 'check'])).code).toBe(2);
    expect((await cli(['policy', 'check', '-f', dir, '-o', 'yaml'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('policy check -f <file|dir>');
  });
});
