import { describe, it, expect, beforeAll } from '@jest/globals';
import fc from 'fast-check';
import { createPrivateKey } from 'node:crypto';
import { generateCa, loadCaMaterial } from '../../src/issuers/ca-material.ts';
import { InClusterCaIssuer } from '../../src/issuers/in-cluster-ca.ts';
import { buildKeystore } from '../../src/pki/pkcs12.ts';
import { pkcs12Certificates } from '../../src/pki/pkcs12-read.ts';
import { parseCertificateDer } from '../../src/pki/certs.ts';
import { pemBlocks } from '../../src/pki/pem.ts';
import { IssuancePolicySpec } from '../../src/crds/issuance-policy.ts';
import { compilePolicies } from '../../src/policy/evaluate.ts';
import {
  extractFromApiService,
  extractFromConfigMap,
  extractFromCrd,
  extractFromSecret,
  extractFromWebhookConfiguration,
} from '../../src/inventory/extract.ts';
import { MAX_SANS_KEPT } from '../../src/inventory/cert-record.ts';
import { buildEntries, type InventoryObject, type ModelInput } from '../../src/inventory/model.ts';
import { gatewayRefs, ingressRefs, podRefs } from '../../src/inventory/refs.ts';
import { newKey, makeCsr, request } from './issuers-fixtures.ts';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
let ca: { certPem: string; keyPem: string };
let leafPem = '';
let leafKeyPem = '';
let wideLeafPem = '';

beforeAll(async () => {
  ca = await generateCa({ commonName: 'Inventory Test CA', durationMs: 86_400_000 * 365, key: { algorithm: 'ECDSA' } });
  const m = loadCaMaterial({ 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) });
  if (!m.ok) throw new Error(m.message);
  const issuer = new InClusterCaIssuer(m);
  const key = await newKey('ECDSA');
  leafKeyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const r = await issuer.sign(
    request(await makeCsr(key, { subject: 'CN=api', sans: [{ type: 'dns', value: 'api.payments.svc' }] })),
  );
  if (r.status !== 'issued') throw new Error('not issued');
  leafPem = r.certificatePem;
  const wide = await issuer.sign(
    request(
      await makeCsr(key, {
        subject: 'CN=wide',
        sans: Array.from({ length: 300 }, (_v, i) => ({ type: 'dns' as const, value: `n${i}.example.com` })),
      }),
    ),
  );
  if (wide.status !== 'issued') throw new Error('not issued');
  wideLeafPem = wide.certificatePem;
});

/** The test leaf, its key and the CA in a PKCS#12 keystore under the password 'changeit'. */
function leafKeystore(): Buffer {
  return buildKeystore({
    key: createPrivateKey(leafKeyPem),
    certificatePem: leafPem,
    chainPem: [ca.certPem],
    password: 'changeit',
    iterations: 2048,
  });
}

describe('extract', () => {
  it('a TLS Secret: leaf and chain split into certificates; the key is never kept', () => {
    const x = extractFromSecret({
      data: { 'tls.crt': b64(leafPem + ca.certPem), 'tls.key': b64(leafKeyPem), 'ca.crt': b64(ca.certPem) },
    });
    expect(x.problems).toEqual([]);
    expect(x.certs.map((c) => [c.key, c.isCA])).toEqual([
      ['tls.crt', false],
      ['tls.crt#1', true],
      ['ca.crt', true],
    ]);
    expect(x.certs[0]).toMatchObject({
      dnsNames: ['api.payments.svc'],
      keyAlgorithm: 'ECDSA',
      keySize: 256,
      issuerDN: 'CN=Inventory Test CA',
      selfSigned: false,
    });
    expect(JSON.stringify(x)).not.toContain('PRIVATE KEY');
  });
  it('DER under a certificate-like key, garbage PEM counted as a problem, other data ignored', () => {
    const der = pemBlocks(leafPem, ['CERTIFICATE'])[0]!;
    const x = extractFromSecret({
      data: {
        'server.der': b64(der),
        'bad.pem': b64('-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n'),
        'config.json': b64('{"a":1}'),
        blob: b64(Buffer.from([0x30, 0x82, 0x01, 0x00, 1, 2, 3])),
      },
    });
    expect(x.certs.map((c) => c.key)).toEqual(['server.der']);
    expect(x.problems).toEqual([
      { key: 'bad.pem', reason: expect.stringMatching(/invalid base64/), code: 'unreadable' },
    ]);
  });
  it('PKCS#12: read with the password from the annotated key; unknown password is a problem', () => {
    const p12 = leafKeystore();
    const x = extractFromSecret({
      metadata: { annotations: { 'machineidentity.io/pkcs12-password-key': 'pw' } },
      data: { 'store.p12': b64(p12), pw: b64('changeit\n') },
    });
    expect(x.problems).toEqual([]);
    expect(x.certs.map((c) => c.subjectDN)).toEqual(expect.arrayContaining(['CN=Inventory Test CA']));
    expect(x.certs).toHaveLength(2);
    const locked = extractFromSecret({ data: { 'store.p12': b64(p12) } });
    expect(locked.certs).toEqual([]);
    expect(locked.problems[0]!.reason).toMatch(/wrong PKCS#12 password/);
    expect(() => pkcs12Certificates(p12, 'nope')).toThrow(/wrong PKCS#12 password/);
  });
  it("reads the keystores of labelled Secrets too (a tenant's label must not hide a certificate in keystore.p12)", () => {
    const p12 = leafKeystore();
    const x = extractFromSecret({
      metadata: { labels: { 'machineidentity.io/identity': 'api' } },
      data: { 'keystore.p12': b64(p12), 'keystore-password': b64('changeit') },
    });
    expect(x.problems).toEqual([]);
    expect(x.certs.map((c) => c.key)).toEqual(['keystore.p12', 'keystore.p12#1']);
    const junk = extractFromSecret({
      metadata: { labels: { 'machineidentity.io/identity': 'api' } },
      data: { 'truststore.p12': b64('whatever') },
    });
    expect(junk.problems.map((p) => p.key)).toEqual(['truststore.p12']);
  });
  it('caps SAN lists kept at 100 and counts them all', () => {
    const [c] = extractFromSecret({ data: { 'tls.crt': b64(wideLeafPem) } }).certs;
    expect(c!.dnsNames).toHaveLength(MAX_SANS_KEPT);
    expect(c!.sanCount).toBe(300);
  });
  it('ConfigMap bundles, webhook/APIService/CRD caBundles', () => {
    expect(
      extractFromConfigMap({ data: { 'ca-bundle.crt': ca.certPem + ca.certPem, plain: 'hello' } }).certs.map(
        (c) => c.key,
      ),
    ).toEqual(['ca-bundle.crt', 'ca-bundle.crt#1']);
    expect(
      extractFromWebhookConfiguration({
        webhooks: [
          { name: 'a.example.com', clientConfig: { caBundle: b64(ca.certPem) } },
          { name: 'b', clientConfig: {} },
        ],
      }).certs.map((c) => c.key),
    ).toEqual(['a.example.com']);
    expect(extractFromApiService({ spec: { caBundle: b64(ca.certPem) } }).certs).toHaveLength(1);
    expect(
      extractFromCrd({ spec: { conversion: { webhook: { clientConfig: { caBundle: b64('junk') } } } } }).problems,
    ).toHaveLength(1);
  });
});

describe('the certificate parser under fuzzing', () => {
  it('10,000 random and mutated inputs: never an uncaught exception, only problems', () => {
    const der = pemBlocks(leafPem, ['CERTIFICATE'])[0]!;
    let parsed = 0,
      rejected = 0;
    const mutate = fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(4));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
          fc.array(mutate, { minLength: 1, maxLength: 8 }).map((ms) => {
            const b = Buffer.from(der);
            for (const [i, v, op] of ms) {
              if (op === 0) b[i] = v;
              else if (op === 1) b[i] = b[i]! ^ (1 << (v % 8));
              else b[i] = 0;
            }
            return b;
          }),
          fc.nat(der.length).map((n) => der.subarray(0, n)),
        ),
        (input) => {
          try {
            parseCertificateDer(input);
            parsed++;
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
            rejected++;
          }
          const x = extractFromSecret({
            data: {
              'tls.crt': b64(`-----BEGIN CERTIFICATE-----\n${input.toString('base64')}\n-----END CERTIFICATE-----\n`),
              'x.der': b64(input),
              'x.p12': b64(input),
            },
          });
          expect(x.certs.length + x.problems.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 10_000, seed: 42 },
    );
    expect(parsed + rejected).toBe(10_000);
  });
});

describe('buildEntries', () => {
  const holder = (over: Partial<InventoryObject> & { certs: InventoryObject['certs'] }): InventoryObject => ({
    kind: 'Secret',
    metadata: { name: 'web-tls', namespace: 'payments' },
    problems: [],
    ...over,
  });
  const base = (objects: InventoryObject[], over: Partial<ModelInput> = {}): ModelInput => ({
    objects,
    pods: [],
    tls: [],
    knownCas: [],
    identities: new Map(),
    namespaces: new Map([['payments', { labels: { team: 'pay-ns' }, annotations: {} }]]),
    ownerKeys: ['owner', 'team'],
    policies: [],
    ...over,
  });

  it('location, owner, trust through the known CA, managed', () => {
    const certs = extractFromSecret({ data: { 'tls.crt': b64(leafPem + ca.certPem) } }).certs;
    const caFacts = parseCertificateDer(pemBlocks(ca.certPem, ['CERTIFICATE'])[0]!);
    const entries = buildEntries(
      base([holder({ certs })], {
        pods: [
          podRefs({
            metadata: {
              name: 'web-7d9c-abcde',
              namespace: 'payments',
              labels: { 'pod-template-hash': '7d9c' },
              ownerReferences: [
                { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9c', uid: 'u', controller: true },
              ],
            },
            spec: {
              containers: [{ name: 'c', envFrom: [{ secretRef: { name: 'web-tls' } }] }],
              volumes: [{ name: 'v', projected: { sources: [{ secret: { name: 'web-tls' } }] } }],
            },
          }),
        ],
        tls: [
          ingressRefs({ metadata: { name: 'web', namespace: 'payments' }, spec: { tls: [{ secretName: 'web-tls' }] } }),
          gatewayRefs({
            metadata: { name: 'gw', namespace: 'payments' },
            spec: { listeners: [{ tls: { certificateRefs: [{ name: 'web-tls' }] } }] },
          }),
        ],
        knownCas: [
          {
            authority: 'corp-ca',
            subjectDN: caFacts.subjectDN,
            subjectKeyId: caFacts.subjectKeyId,
            fingerprintSHA256: caFacts.fingerprintSHA256,
          },
        ],
      }),
    );
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({
      namespace: 'payments',
      kind: 'Secret',
      name: 'web-tls',
      managed: false,
      trusted: true,
      authority: 'corp-ca',
      owner: 'pay-ns',
      location: { pods: ['web-7d9c-abcde'], workloads: ['Deployment/web'], ingresses: ['web'], gateways: ['gw'] },
    });
    expect(entries[1]).toMatchObject({ trusted: true, authority: 'corp-ca' });
    const unknown = buildEntries(
      base([holder({ certs, metadata: { name: 'x', namespace: 'payments', labels: { owner: 'obj-team' } } })]),
    );
    expect(unknown[0]).toMatchObject({ trusted: false, owner: 'obj-team' });
    expect(unknown[0]!.authority).toBeUndefined();
  });

  // a namespace editor can set the operator's label on their own Secret: that must not make it managed
  // (a managed certificate is never reported as discovered: no PolicyViolation Event, no finding)
  const LABEL = 'machineidentity.io/identity';
  const managedCases: [string, Record<string, string> | undefined, [string, string][], boolean][] = [
    ['labelled, no identity names it', { [LABEL]: 'web' }, [], false],
    ['labelled, an identity of another name names it', { [LABEL]: 'other' }, [['payments/web-tls', 'web']], false],
    ["named by an identity, not labelled (someone else's Secret)", undefined, [['payments/web-tls', 'web']], false],
    ['named by an identity and labelled with its name', { [LABEL]: 'web' }, [['payments/web-tls', 'web']], true],
  ];
  it.each(managedCases)('managed: %s', (_name, labels, identities, managed) => {
    const certs = extractFromSecret({ data: { 'tls.crt': b64(leafPem) } }).certs;
    const policies = compilePolicies([
      {
        name: 'p',
        spec: IssuancePolicySpec.parse({ enforcement: 'Audit', rules: { dnsNames: { allowed: ['*.example.com'] } } }),
      },
    ]);
    const [e] = buildEntries(
      base([holder({ certs, metadata: { name: 'web-tls', namespace: 'payments', ...(labels ? { labels } : {}) } })], {
        identities: new Map(identities.map(([k, name]) => [k, { name }])),
        policies,
      }),
    );
    expect(e!.managed).toBe(managed);
    expect(e!.identity).toBe(managed ? 'web' : undefined);
    expect(e!.violations.length).toBeGreaterThan(0); // evaluated either way; only unmanaged ones are announced
  });

  it('evaluates leaves against the policies; CA certificates are not held to identity rules', () => {
    const certs = extractFromSecret({ data: { 'tls.crt': b64(leafPem + ca.certPem) } }).certs;
    const policies = compilePolicies([
      {
        name: 'p',
        spec: IssuancePolicySpec.parse({
          enforcement: 'Audit',
          rules: { allowedAuthorities: ['corp-ca'], dnsNames: { allowed: ['*.example.com'] } },
        }),
      },
    ]);
    const entries = buildEntries(base([holder({ certs })], { policies }));
    expect(entries[0]!.violations.map((v) => v.rule)).toEqual(['allowedAuthorities', 'dnsNames.allowed']);
    expect(entries[0]!.compliant).toBe(false);
    expect(entries[1]!.compliant).toBe(true);
  });
});
