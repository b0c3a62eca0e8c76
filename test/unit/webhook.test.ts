import { describe, it, expect, beforeAll } from '@jest/globals';
import { IssuancePolicySpec } from '../../src/crds/issuance-policy.ts';
import type { IssuancePolicySpecInput } from '../../src/crds/issuance-policy.ts';
import { compilePolicies } from '../../src/policy/evaluate.ts';
import { review, type AdmissionDeps, type AdmissionReviewRequest } from '../../src/webhook/admission.ts';
import { renewMaterial, servingCertNeeds } from '../../src/webhook/serving-cert.ts';
import { caBundlePatch } from '../../src/webhook/ca-bundle.ts';
import { parseCertificate } from '../../src/pki/certs.ts';

const deps = (
  policies: Record<string, IssuancePolicySpecInput>,
  labels: Record<string, Record<string, string>> = {},
  defaultAction: 'Allow' | 'Deny' = 'Allow',
): AdmissionDeps => {
  const compiled = compilePolicies(
    Object.entries(policies).map(([name, spec]) => ({ name, spec: IssuancePolicySpec.parse(spec) })),
  );
  return {
    policies: () => compiled,
    namespaceLabels: (ns) => labels[ns],
    defaultAction,
    ready: () => true,
    clusterDomain: 'cluster.local',
    // the tests' foreign names are granted, so these tests see the policies; the safe defaults have their own tests
    binding: (name) => ({
      name,
      spec: {
        grants: [
          {
            dnsNames: ['evil.com', '*.example.com', '*.payments.svc', '*.*.*.evil.com'],
            allowWildcards: false,
            allowCA: false,
          },
        ],
      },
    }),
  };
};
const req = (
  object: unknown,
  o: Partial<AdmissionReviewRequest['request']> = {},
): AdmissionReviewRequest['request'] => ({
  uid: 'u-1',
  kind: { group: 'machineidentity.io', version: 'v1alpha1', kind: 'MachineIdentity' },
  namespace: 'payments',
  operation: 'CREATE',
  object,
  ...o,
});
const mi = (spec: Record<string, unknown> = {}, labels: Record<string, string> = {}): unknown => ({
  apiVersion: 'machineidentity.io/v1alpha1',
  kind: 'MachineIdentity',
  metadata: { name: 'api', namespace: 'payments', labels },
  spec: { secretName: 'api-tls', authorityRef: { name: 'corp-ca' }, dnsNames: ['api.payments.svc'], ...spec },
});

describe('admission review of MachineIdentities', () => {
  const names = { names: { rules: { dnsNames: { allowed: ['*.{{namespace}}.svc'] } } } };
  it('allows what every Enforce policy allows', () => {
    expect(review(req(mi()), deps(names))).toEqual({ uid: 'u-1', allowed: true });
  });
  it('denies with the contract message, 403 Forbidden', () => {
    const r = review(req(mi({ dnsNames: ['api.payments.svc', 'evil.com'] })), deps(names));
    expect(r).toEqual({
      uid: 'u-1',
      allowed: false,
      status: {
        code: 403,
        reason: 'Forbidden',
        message: 'denied by IssuancePolicy names: dnsNames[1] "evil.com" matches none of *.payments.svc',
      },
    });
  });
  it('selects by namespace labels', () => {
    const d = deps(
      { prod: { selector: { namespaceSelector: { matchLabels: { tier: 'prod' } } }, rules: { maxDuration: '24h' } } },
      { payments: { tier: 'prod' } },
    );
    expect(review(req(mi({ duration: '48h' })), d).allowed).toBe(false);
    expect(review(req(mi({ duration: '48h' }), { namespace: 'other' }), d).allowed).toBe(true);
  });
  it('Audit allows with one warning per violation', () => {
    const r = review(
      req(mi({ dnsNames: ['evil.com'] })),
      deps({ watch: { enforcement: 'Audit', rules: { dnsNames: { allowed: ['*.example.com'] } } } }),
    );
    expect(r.allowed).toBe(true);
    expect(r.warnings).toEqual(['audit: IssuancePolicy watch: dnsNames[0] "evil.com" matches none of *.example.com']);
  });
  it('the Deny default denies what no Enforce policy selects', () => {
    const r = review(req(mi()), deps({}, {}, 'Deny'));
    expect(r.allowed).toBe(false);
    expect(r.status?.message).toMatch(
      /no Enforce IssuancePolicy selects MachineIdentity payments\/api .*policy.defaultAction is Deny/,
    );
  });
  it('deny wins across two policies', () => {
    const r = review(
      req(mi({ privateKey: { algorithm: 'RSA', size: 2048 } })),
      deps({ a: { rules: {} }, b: { rules: { privateKey: { minRSASize: 3072 } } } }),
    );
    expect(r.allowed).toBe(false);
    expect(r.status?.message).toMatch(/^denied by IssuancePolicy b: /);
  });
  it('ignores DELETE and CONNECT, other groups and kinds', () => {
    const d = deps({}, {}, 'Deny');
    expect(review(req(mi(), { operation: 'DELETE' }), d).allowed).toBe(true);
    expect(review(req(mi(), { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }), d).allowed).toBe(true);
  });
  it('lets an object it cannot read through with a warning (the API server validated it; status reports)', () => {
    const r = review(
      req({ kind: 'MachineIdentity', metadata: { name: 'x' }, spec: { dnsNames: 5 } }),
      deps({}, {}, 'Deny'),
    );
    expect(r.allowed).toBe(true);
    expect(r.warnings?.[0]).toMatch(/could not read this MachineIdentity/);
  });
  it('cuts hostile values: no warning over 240 characters, at most 10', () => {
    const long = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.evil.com`;
    const r = review(
      req(mi({ dnsNames: Array.from({ length: 20 }, (_v, i) => `${i}${long}`) })),
      deps({ w: { enforcement: 'Audit', rules: { dnsNames: { allowed: ['*.example.com'] } } } }),
    );
    expect(r.warnings).toHaveLength(10);
    for (const w of r.warnings!) expect(w.length).toBeLessThanOrEqual(240);
  });
});

describe('admission review of IssuancePolicies', () => {
  it('warns about entries that can never match, never denies', () => {
    const r = review(
      req(
        {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'IssuancePolicy',
          metadata: { name: 'p' },
          spec: { rules: { dnsNames: { allowed: ['api-*.example.com'] } } },
        },
        { kind: { group: 'machineidentity.io', version: 'v1alpha1', kind: 'IssuancePolicy' } },
      ),
      deps({}, {}, 'Deny'),
    );
    expect(r.allowed).toBe(true);
    expect(r.warnings?.[0]).toMatch(/dnsNames.allowed entry "api-\*.example.com" never matches/);
  });
});

describe('webhook serving certificate', () => {
  const now = new Date('2026-11-28T10:00:00Z');
  const hosts = ['mio-webhook.mio.svc', '127.0.0.1'];
  let data: Record<string, string>;
  beforeAll(async () => {
    data = await renewMaterial(undefined, hosts, 'all', now);
  });

  it('makes a CA and a serving certificate for the hosts, chained to it', () => {
    const leaf = parseCertificate(Buffer.from(data['tls.crt']!, 'base64').toString());
    const ca = parseCertificate(Buffer.from(data['ca.crt']!, 'base64').toString());
    expect(ca.isCA).toBe(true);
    expect(leaf.isCA).toBe(false);
    expect(leaf.issuerDN).toBe(ca.subjectDN);
    expect(leaf.dnsNames).toEqual(['mio-webhook.mio.svc']);
    expect(leaf.ipAddresses).toEqual(['127.0.0.1']);
    expect(leaf.extKeyUsage).toContain('serverAuth');
    expect(servingCertNeeds(data, hosts, now)).toBe('none');
  });
  it('renews the leaf only, keeping the CA (and so the caBundle)', async () => {
    expect(servingCertNeeds(data, [...hosts, 'new.host'], now)).toBe('leaf');
    expect(servingCertNeeds(data, hosts, new Date(now.getTime() + 300 * 86_400_000))).toBe('leaf');
    const renewed = await renewMaterial(data, [...hosts, 'new.host'], 'leaf', now);
    expect(renewed['ca.crt']).toBe(data['ca.crt']);
    expect(renewed['tls.crt']).not.toBe(data['tls.crt']);
  });
  it('replaces everything when the CA is missing, garbage, or close to expiry', () => {
    expect(servingCertNeeds(undefined, hosts, now)).toBe('all');
    expect(servingCertNeeds({ ...data, 'ca.crt': Buffer.from('garbage').toString('base64') }, hosts, now)).toBe('all');
    expect(servingCertNeeds({ ...data, 'ca.key': data['tls.key']! }, hosts, now)).toBe('all');
    expect(servingCertNeeds(data, hosts, new Date(now.getTime() + 9.5 * 365 * 86_400_000))).toBe('all');
  });
});

describe('caBundlePatch', () => {
  const vwc = (bundles: (string | undefined)[]): never =>
    ({
      metadata: { name: 'mio', resourceVersion: '7' },
      webhooks: bundles.map((b, i) => ({ name: `w${i}`, clientConfig: b === undefined ? {} : { caBundle: b } })),
    }) as never;
  const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const b64 = Buffer.from(ca).toString('base64');
  it('adds or replaces each webhook caBundle, guarded by the resourceVersion', () => {
    expect(caBundlePatch(vwc([undefined, 'old']), ca)).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '7' },
      { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: b64 },
      { op: 'replace', path: '/webhooks/1/clientConfig/caBundle', value: b64 },
    ]);
  });
  it('is empty when every bundle is already right', () => {
    expect(caBundlePatch(vwc([b64, b64]), ca)).toEqual([]);
  });
});
