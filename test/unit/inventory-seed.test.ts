// The inventory's answer for a Secret the issuance just wrote, seeded from what the issuance knows
// (src/inventory/seed.ts): it must be exactly what the parse worker would answer for those bytes, and
// any content the issuance did not write (a tenant's edit, an extra value) must still be parsed.
import { describe, it, expect, beforeAll } from '@jest/globals';
import { generateCa, loadCaMaterial } from '../../src/issuers/ca-material.ts';
import { InClusterCaIssuer } from '../../src/issuers/in-cluster-ca.ts';
import { parseCertificate } from '../../src/pki/certs.ts';
import { DEFAULT_PARSE_BUDGET, EXTRACTORS, extractFromSecret } from '../../src/inventory/extract.ts';
import { slimForParse } from '../../src/inventory/slim.ts';
import {
  acceptSeeds,
  contentDigest,
  ownTlsValues,
  seededFacts,
  seedWritten,
  takeSeed,
  type OwnValues,
} from '../../src/inventory/seed.ts';
import type { Parser } from '../../src/parsing/parser.ts';
import { newKey, makeCsr, request } from './issuers-fixtures.ts';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
/** The worker's extractors, in this thread: what the pool would answer. */
const parser = {
  budget: DEFAULT_PARSE_BUDGET,
  extract: (kind: string, obj: Record<string, unknown>) => Promise.resolve(EXTRACTORS[kind]?.(obj as never)),
} as unknown as Parser;
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

let ca: { certPem: string; keyPem: string };
let other: { certPem: string; keyPem: string };
let leafPem = '';
let keyPem = '';
let sec1Pem = '';
let otherLeafPem = '';

beforeAll(async () => {
  acceptSeeds();
  ca = await generateCa({ commonName: 'Seed Test CA', durationMs: 86_400_000, key: { algorithm: 'ECDSA' } });
  other = await generateCa({ commonName: 'Seed Other CA', durationMs: 86_400_000, key: { algorithm: 'ECDSA' } });
  const m = loadCaMaterial({ 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) });
  if (!m.ok) throw new Error(m.message);
  const issuer = new InClusterCaIssuer(m);
  const key = await newKey('ECDSA');
  keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  sec1Pem = key.export({ type: 'sec1', format: 'pem' }).toString();
  const sign = async (cn: string): Promise<string> => {
    const r = await issuer.sign(
      request(await makeCsr(key, { subject: `CN=${cn}`, sans: [{ type: 'dns', value: cn }] })),
    );
    if (r.status !== 'issued') throw new Error('not issued');
    return r.certificatePem;
  };
  leafPem = await sign('api.payments.svc');
  otherLeafPem = await sign('evil.example.com');
});

/** A Secret as the API server answers our write (the managed label, maybe keystores). */
function written(
  data: Record<string, string>,
  labels: Record<string, string> = { 'machineidentity.io/identity': 'api' },
) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'api-tls', namespace: 'payments', uid: 'u1', resourceVersion: '7', labels },
    type: 'kubernetes.io/tls',
    data,
  };
}

/** What issue.ts hands ownTlsValues, for a chain and a key encoding. */
function issued(chainPem: string[], k = keyPem) {
  const data = {
    'tls.crt': b64([leafPem, ...chainPem].join('')),
    'tls.key': b64(k),
    'ca.crt': b64(ca.certPem),
  };
  return { data, leaf: parseCertificate(leafPem), leafPem, chainPem, keyPem: k, caPem: ca.certPem };
}

/** ownTlsValues once the CA texts are known (the first call starts their parse). */
async function own(w: ReturnType<typeof issued>): Promise<OwnValues> {
  ownTlsValues(parser, w);
  await settle();
  const o = ownTlsValues(parser, w);
  if (!o) throw new Error('no own values');
  return o;
}

describe('seededFacts: exactly what the worker would answer', () => {
  it.each([
    ['no chain, PKCS#8 key', [] as string[], 'pkcs8'],
    ['a chain, PKCS#8 key', ['ca'], 'pkcs8'],
    ['a chain, SEC1 key', ['ca'], 'sec1'],
  ])('%s', async (_name, chain, enc) => {
    const w = issued(
      chain.map(() => ca.certPem),
      enc === 'sec1' ? sec1Pem : keyPem,
    );
    const secret = written({ ...w.data });
    const slim = slimForParse('Secret', secret);
    if (!slim) throw new Error('nothing to parse');
    expect(seededFacts(slim, await own(w), DEFAULT_PARSE_BUDGET)).toEqual(extractFromSecret(secret));
  });

  it('a Secret with a keystore is left to the worker (it reads keystores whatever the labels say)', async () => {
    const w = issued([ca.certPem], keyPem);
    for (const k of ['keystore.p12', 'truststore.p12']) {
      const slim = slimForParse('Secret', written({ ...w.data, [k]: b64('a keystore') }));
      if (!slim) throw new Error('nothing to parse');
      expect(seededFacts(slim, await own(w), DEFAULT_PARSE_BUDGET)).toBeUndefined();
    }
  });

  it('the first issuance of an authority (CA text not parsed yet) seeds nothing', () => {
    const w = { ...issued([]), caPem: other.certPem, data: { ...issued([]).data, 'ca.crt': b64(other.certPem) } };
    expect(ownTlsValues(parser, w)).toBeUndefined();
  });
});

describe('seededFacts: content we did not write is parsed', () => {
  const managed = { 'machineidentity.io/identity': 'api' };
  // three entries a row: jest passes `done` to a test function with more parameters than the row has
  const cases: [string, (d: Record<string, string>) => Record<string, string>, Record<string, string>][] = [
    ['tls.crt replaced by another certificate', (d) => ({ ...d, 'tls.crt': b64(otherLeafPem) }), managed],
    ['tls.crt with a certificate appended', (d) => ({ ...d, 'tls.crt': b64(leafPem + other.certPem) }), managed],
    ['ca.crt replaced', (d) => ({ ...d, 'ca.crt': b64(other.certPem) }), managed],
    ['tls.key replaced', (d) => ({ ...d, 'tls.key': b64(other.keyPem) }), managed],
    ['an extra certificate value', (d) => ({ ...d, 'extra.pem': b64(other.certPem) }), managed],
    ['a password value', (d) => ({ ...d, password: b64('0secret') }), managed],
    ['the managed label removed', (d) => d, {}],
  ];
  it.each(cases)('%s', async (_name, edit, labels) => {
    const w = issued([]);
    const o = await own(w);
    const ours = slimForParse('Secret', written(w.data));
    const theirs = slimForParse('Secret', written(edit(w.data), labels));
    if (!ours || !theirs) throw new Error('nothing to parse');
    expect(seededFacts(ours, o, DEFAULT_PARSE_BUDGET)).toBeDefined();
    expect(seededFacts(theirs, o, DEFAULT_PARSE_BUDGET)).toBeUndefined();
    // and a seed of our write is never the answer for theirs
    expect(seedWritten(written(w.data), o, DEFAULT_PARSE_BUDGET)).toBe(true);
    expect(takeSeed(contentDigest('Secret', theirs))).toBeUndefined();
    expect(takeSeed(contentDigest('Secret', ours))).toBeDefined();
  });

  it('a tenant edit after our write: the edited content has no seed (parsed again); ours is taken once', async () => {
    const w = issued([]);
    const o = await own(w);
    expect(seedWritten(written(w.data), o, DEFAULT_PARSE_BUDGET)).toBe(true);
    const edited = slimForParse('Secret', written({ ...w.data, 'tls.crt': b64(otherLeafPem) }));
    const ours = slimForParse('Secret', written(w.data));
    if (!edited || !ours) throw new Error('nothing to parse');
    expect(takeSeed(contentDigest('Secret', edited))).toBeUndefined();
    expect(takeSeed(contentDigest('Secret', ours))).toEqual(extractFromSecret(written(w.data)));
    expect(takeSeed(contentDigest('Secret', ours))).toBeUndefined();
  });

  it('over the object budget: left to the worker to report', async () => {
    const w = issued([]);
    const slim = slimForParse('Secret', written(w.data));
    if (!slim) throw new Error('nothing to parse');
    expect(seededFacts(slim, await own(w), { ...DEFAULT_PARSE_BUDGET, maxObjectBytes: 100 })).toBeUndefined();
    expect(seededFacts(slim, await own(w), { ...DEFAULT_PARSE_BUDGET, maxCertificates: 1 })).toBeUndefined();
  });
});

describe('ownTlsValues: only values that are exactly the known texts', () => {
  it.each([
    ['tls.crt not the leaf and chain sent', (w: ReturnType<typeof issued>) => ({ ...w, leafPem: otherLeafPem })],
    ['a leaf text of two blocks', (w: ReturnType<typeof issued>) => ({ ...w, leafPem: leafPem + ca.certPem })],
    [
      'an encrypted key',
      (w: ReturnType<typeof issued>) => ({
        ...w,
        keyPem: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n',
      }),
    ],
    [
      'a chain holding a private key',
      (w: ReturnType<typeof issued>) => {
        const chainPem = [ca.certPem + ca.keyPem];
        return { ...w, chainPem, data: { ...w.data, 'tls.crt': b64(leafPem + chainPem[0]) } };
      },
    ],
  ])('%s: none', async (_name, edit) => {
    const w = edit(issued([]));
    ownTlsValues(parser, w);
    await settle();
    expect(ownTlsValues(parser, w)).toBeUndefined();
  });
});
