// Inventory-side anomalies (#16 item 4): public-key fingerprints from the parse worker's extract,
// KeyReuse / KeyCopied from where keys are held, ReissueLoop from issuance times; table-tested.
import { describe, it, expect, beforeAll } from '@jest/globals';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { generateCa, loadCaMaterial } from '../../src/issuers/ca-material.ts';
import { InClusterCaIssuer } from '../../src/issuers/in-cluster-ca.ts';
import { extractFromConfigMap, extractFromSecret } from '../../src/inventory/extract.ts';
import { keysFromPem, MAX_KEYS_PER_OBJECT, spkiFingerprint, type KeyRecord } from '../../src/inventory/key-facts.ts';
import {
  addIssuance,
  attachAnomalies,
  HOUR_MS,
  keyAnomalies,
  keyHoldings,
  reissueLoops,
  type KeyHolding,
} from '../../src/inventory/anomalies.ts';
import { buildEntries, type InventoryObject, type ManagedIdentity } from '../../src/inventory/model.ts';
import { Parser } from '../../src/parsing/parser.ts';
import { formatCsv, formatTable, toRow } from '../../src/cli/inventory-format.ts';
import { newKey, makeCsr, request } from './issuers-fixtures.ts';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
let ca: { certPem: string; keyPem: string };
let leafPem = '';
let leafKeyPem = '';

beforeAll(async () => {
  ca = await generateCa({ commonName: 'Anomaly Test CA', durationMs: 86_400_000 * 365, key: { algorithm: 'ECDSA' } });
  const m = loadCaMaterial({ 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) });
  if (!m.ok) throw new Error(m.message);
  const key = await newKey('ECDSA');
  leafKeyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const r = await new InClusterCaIssuer(m).sign(
    request(await makeCsr(key, { subject: 'CN=web', sans: [{ type: 'dns', value: 'web.a.svc' }] })),
  );
  if (r.status !== 'issued') throw new Error('not issued');
  leafPem = r.certificatePem;
});

describe('public-key fingerprints (parse worker)', () => {
  it('a TLS Secret: tls.crt and tls.key have the same public-key fingerprint; no key material is returned', () => {
    const x = extractFromSecret({
      data: { 'tls.crt': b64(leafPem + ca.certPem), 'tls.key': b64(leafKeyPem), 'ca.crt': b64(ca.certPem) },
    });
    const [leaf, chainCa, caCrt] = x.certs;
    expect(leaf?.publicKeySHA256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(x.keys).toEqual([{ key: 'tls.key', publicKeySHA256: leaf?.publicKeySHA256 }]);
    expect(chainCa?.publicKeySHA256).toBe(caCrt?.publicKeySHA256);
    expect(chainCa?.publicKeySHA256).not.toBe(leaf?.publicKeySHA256);
    expect(JSON.stringify(x)).not.toMatch(/PRIVATE|BEGIN/);
  });

  it.each([
    ['PKCS#8 RSA', 'rsa', 'pkcs8'],
    ['PKCS#1 RSA', 'rsa', 'pkcs1'],
    ['SEC1 EC', 'ec', 'sec1'],
    ['PKCS#8 Ed25519', 'ed25519', 'pkcs8'],
  ] as const)('%s private key: the public key fingerprint', (_name, type, format) => {
    const kp =
      type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 1024 })
        : type === 'ec'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('ed25519');
    const pem = kp.privateKey.export({ type: format, format: 'pem' }).toString();
    const out: KeyRecord[] = [];
    keysFromPem(out, 'key.pem', pem);
    expect(out).toEqual([{ key: 'key.pem', publicKeySHA256: spkiFingerprint(kp.publicKey) }]);
  });

  describe("a key next to its certificate takes the certificate's fingerprint without being derived", () => {
    const leafFor = async (key: KeyObject): Promise<string> => {
      const m = loadCaMaterial({ 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) });
      if (!m.ok) throw new Error(m.message);
      const r = await new InClusterCaIssuer(m).sign(request(await makeCsr(key, { subject: 'CN=pair' })));
      if (r.status !== 'issued') throw new Error('not issued');
      return r.certificatePem;
    };
    it.each([
      ['ECDSA P-256, PKCS#8', 'ECDSA', 256, 'pkcs8'],
      ['ECDSA P-256, SEC1', 'ECDSA', 256, 'sec1'],
      ['ECDSA P-384, SEC1', 'ECDSA', 384, 'sec1'],
      ['RSA 2048, PKCS#8', 'RSA', 2048, 'pkcs8'],
      ['RSA 2048, PKCS#1', 'RSA', 2048, 'pkcs1'],
      ['Ed25519 (its PKCS#8 carries no public key: derived)', 'Ed25519', undefined, 'pkcs8'],
    ] as const)(
      '%s: the same fingerprint as the derivation, whatever the order of the values',
      async (_n, alg, size, format) => {
        const key = await newKey(alg, size);
        const pem = key.export({ type: format, format: 'pem' }).toString();
        const crt = await leafFor(key);
        const derived: KeyRecord[] = [];
        keysFromPem(derived, 'tls.key', pem);
        expect(derived[0]?.publicKeySHA256).toBe(spkiFingerprint(key));
        const orders: Record<string, string>[] = [
          { 'tls.crt': b64(crt), 'tls.key': b64(pem) },
          { 'a.key': b64(pem), 'z.crt': b64(crt) }, // the key is read before the certificate
        ];
        for (const data of orders) {
          const x = extractFromSecret({ data });
          expect(x.keys?.map((k) => k.publicKeySHA256)).toEqual([spkiFingerprint(key)]);
          expect(x.certs[0]?.publicKeySHA256).toBe(spkiFingerprint(key));
        }
      },
    );

    it("a key that is not the certificate's, and an EC key whose encoding omits its public key, are derived", async () => {
      const other = await newKey('ECDSA');
      const own = await newKey('ECDSA');
      const crt = await leafFor(own);
      const x = extractFromSecret({
        data: { 'tls.crt': b64(crt), 'tls.key': b64(other.export({ type: 'pkcs8', format: 'pem' })) },
      });
      expect(x.keys?.[0]?.publicKeySHA256).toBe(spkiFingerprint(other));
      expect(x.certs[0]?.publicKeySHA256).toBe(spkiFingerprint(own));
      // SEC1 without the optional [1] publicKey: ECPrivateKey { 1, d, [0] curve } rebuilt from the JWK
      const jwk = own.export({ format: 'jwk' });
      const d = Buffer.from(String(jwk.d), 'base64url');
      const p256 = Buffer.from('06082a8648ce3d030107', 'hex');
      const body = Buffer.concat([
        Buffer.from([0x02, 0x01, 0x01, 0x04, d.length]),
        d,
        Buffer.from([0xa0, p256.length]),
        p256,
      ]);
      const sec1 = Buffer.concat([Buffer.from([0x30, body.length]), body]);
      const pem = `-----BEGIN EC PRIVATE KEY-----\n${sec1.toString('base64')}\n-----END EC PRIVATE KEY-----\n`;
      const y = extractFromSecret({ data: { 'tls.crt': b64(crt), 'tls.key': b64(pem) } });
      expect(y.keys?.[0]?.publicKeySHA256).toBe(spkiFingerprint(own));
    });
  });

  it.each([
    [
      'encrypted PKCS#8',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'P-256' })
          .privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' })
          .toString(),
    ],
    [
      'legacy encrypted PKCS#1',
      () =>
        generateKeyPairSync('rsa', { modulusLength: 1024 })
          .privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' })
          .toString(),
    ],
    ['garbage body', () => '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'],
    ['bad base64', () => '-----BEGIN EC PRIVATE KEY-----\n!!!!\n-----END EC PRIVATE KEY-----\n'],
    ['truncated', () => '-----BEGIN RSA PRIVATE KEY-----\nAAAA\n'],
    ['no key', () => 'hello'],
  ])('%s: skipped, no throw, no finding', (_name, pem) => {
    const out: KeyRecord[] = [];
    expect(() => keysFromPem(out, 'tls.key', pem())).not.toThrow();
    expect(out).toEqual([]);
    const x = extractFromSecret({ data: { 'tls.key': b64(pem()) } });
    expect(x).toEqual({ certs: [], problems: [] });
  });

  it(`keeps at most ${MAX_KEYS_PER_OBJECT} keys per object (budget), each keyed`, () => {
    const pems = Array.from({ length: 20 }, () =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    );
    const x = extractFromSecret({
      data: { 'a.pem': b64(pems.slice(0, 10).join('')), 'b.pem': b64(pems.slice(10).join('')) },
    });
    expect(x.keys).toHaveLength(MAX_KEYS_PER_OBJECT);
    expect(new Set(x.keys?.map((k) => k.key)).size).toBe(MAX_KEYS_PER_OBJECT);
  });

  it('the costliest derivation (DH keys, whose public half OpenSSL computes on import) stays far inside the parse timeout', () => {
    const pem = (generateKeyPairSync as (t: string, o: object) => { privateKey: KeyObject })('dh', { group: 'modp18' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const t0 = performance.now();
    const x = extractFromSecret({ data: { 'k.pem': b64(pem.repeat(40)) } });
    const ms = performance.now() - t0;
    console.log(`${x.keys?.length} DH-8192 private keys (cap): ${ms.toFixed(0)} ms`);
    expect(x.keys).toHaveLength(MAX_KEYS_PER_OBJECT);
    expect(ms).toBeLessThan(2000);
  });

  it('ConfigMaps never yield keys (only Secrets hold private keys)', () => {
    expect(extractFromConfigMap({ data: { 'k.pem': leafKeyPem } }).keys).toBeUndefined();
  });

  it('the parse pool returns the fingerprints (structured clone), never the key', async () => {
    const parser = new Parser();
    try {
      const x = await parser.extract('Secret', { data: { 'tls.crt': b64(leafPem), 'tls.key': b64(leafKeyPem) } });
      expect(x.keys?.[0]?.publicKeySHA256).toBe(x.certs[0]?.publicKeySHA256);
      expect(JSON.stringify(x)).not.toMatch(/PRIVATE/);
    } finally {
      await parser.close();
    }
  });
});

const obj = (ns: string, name: string, over: Partial<InventoryObject> = {}): InventoryObject => ({
  kind: 'Secret',
  metadata: { name, namespace: ns },
  certs: [],
  problems: [],
  ...over,
});
const FP = 'AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99';
const FP2 = FP.replace(/^AA/, '11');

describe('keyHoldings', () => {
  let leafRecord: ReturnType<typeof extractFromSecret>['certs'][number];
  let caRecord: ReturnType<typeof extractFromSecret>['certs'][number];
  beforeAll(() => {
    const x = extractFromSecret({ data: { 'tls.crt': b64(leafPem), 'ca.crt': b64(ca.certPem) } });
    [leafRecord, caRecord] = x.certs as [typeof leafRecord, typeof caRecord];
  });
  const ids = new Map<string, ManagedIdentity>([['a/web-tls', { name: 'web' }]]);

  it('leaf certificates and private keys count; CA certificates and trust-anchor keys do not; only Secrets', () => {
    const selfSignedLeafAsCa = { ...leafRecord, key: 'ca.crt', publicKeySHA256: FP2 };
    const h = keyHoldings(
      [
        obj('a', 'web-tls', {
          certs: [leafRecord, caRecord],
          keys: [{ key: 'tls.key', publicKeySHA256: leafRecord.publicKeySHA256 }],
        }),
        obj('b', 'bundle', { certs: [caRecord, selfSignedLeafAsCa] }),
        obj('c', 'only-key', { keys: [{ key: 'tls.key', publicKeySHA256: FP }] }),
        { ...obj('d', 'cm', { certs: [leafRecord] }), kind: 'ConfigMap' },
      ],
      ids,
    );
    expect(h).toEqual([
      { namespace: 'a', name: 'web-tls', identity: 'web', publicKeySHA256: leafRecord.publicKeySHA256 },
      { namespace: 'c', name: 'only-key', publicKeySHA256: FP },
    ]);
  });

  it('the identity comes from the identities map (spec.secretName) or its durable next-key Secret, never a label', () => {
    const h = keyHoldings(
      [
        obj('a', 'web-mio-next-key-7', { keys: [{ key: 'tls.key', publicKeySHA256: FP }] }),
        obj('b', 'web-mio-next-key-7', { keys: [{ key: 'tls.key', publicKeySHA256: FP }] }),
        obj('a', 'labelled', {
          metadata: { name: 'labelled', namespace: 'a', labels: { 'machineidentity.io/identity': 'web' } },
          keys: [{ key: 'tls.key', publicKeySHA256: FP }],
        }),
      ],
      ids,
    );
    expect(h.map((x) => [x.namespace, x.name, x.identity])).toEqual([
      ['a', 'web-mio-next-key-7', 'web'],
      ['b', 'web-mio-next-key-7', undefined],
      ['a', 'labelled', undefined],
    ]);
  });
});

describe('keyAnomalies', () => {
  const hold = (namespace: string, name: string, identity?: string, fp = FP): KeyHolding => ({
    namespace,
    name,
    publicKeySHA256: fp,
    ...(identity ? { identity } : {}),
  });
  const cases: [string, KeyHolding[], string[]][] = [
    ['one Secret: nothing', [hold('a', 'web-tls', 'web')], []],
    ['different keys: nothing', [hold('a', 'x'), hold('b', 'y', undefined, FP2)], []],
    [
      'managed key copied into a second namespace: KeyReuse on both, KeyCopied on the copy',
      [hold('a', 'web-tls', 'web'), hold('b', 'copy')],
      ['KeyReuse b/copy', 'KeyReuse a/web-tls', 'KeyCopied b/copy'].sort(),
    ],
    [
      'managed key copied in the same namespace: KeyCopied only',
      [hold('a', 'web-tls', 'web'), hold('a', 'copy')],
      ['KeyCopied a/copy'],
    ],
    [
      'one key under two identities of one namespace: KeyReuse',
      [hold('a', 'one-tls', 'one'), hold('a', 'two-tls', 'two')],
      ['KeyReuse a/one-tls', 'KeyReuse a/two-tls'],
    ],
    [
      'an unmanaged key in two namespaces: KeyReuse, no KeyCopied',
      [hold('a', 'x'), hold('b', 'x')],
      ['KeyReuse a/x', 'KeyReuse b/x'],
    ],
    ['the same Secret listed twice (certificate and key): one holder', [hold('a', 'x'), hold('a', 'x')], []],
  ];
  it.each(cases)('%s', (_name, holdings, want) => {
    const got = keyAnomalies(holdings).map((f) => `${f.anomaly} ${f.namespace}/${f.name}`);
    expect(got.sort()).toEqual([...want].sort());
  });

  it('messages name both places and the identity, never key material beyond a short public fingerprint', () => {
    const fs = keyAnomalies([hold('a', 'web-tls', 'web'), hold('b', 'copy')]);
    const reuse = fs.find((f) => f.anomaly === 'KeyReuse' && f.namespace === 'b');
    expect(reuse?.message).toContain('Secret b/copy');
    expect(reuse?.message).toContain('Secret a/web-tls');
    expect(fs.find((f) => f.anomaly === 'KeyCopied')?.message).toContain('MachineIdentity a/web');
    for (const f of fs) expect(f.message).not.toContain(FP);
  });

  it('a key in many places: each message names three others and counts the rest; findings stay one per Secret', () => {
    const many = Array.from({ length: 50 }, (_v, i) => hold(`ns${i}`, 'x'));
    const fs = keyAnomalies(many);
    expect(fs).toHaveLength(50);
    expect(fs[0]?.message).toMatch(/and 46 more$/);
  });

  it('from extracted Secrets end to end: a CA bundle copied everywhere is not KeyReuse', () => {
    const bundle = extractFromSecret({ data: { 'ca.crt': b64(ca.certPem) } });
    const objects = ['a', 'b', 'c'].map((ns) => obj(ns, 'trust', { certs: bundle.certs }));
    expect(keyAnomalies(keyHoldings(objects, new Map()))).toEqual([]);
    const tls = extractFromSecret({ data: { 'tls.crt': b64(leafPem), 'tls.key': b64(leafKeyPem) } });
    const copied = [
      obj('a', 'web-tls', { certs: tls.certs, ...(tls.keys ? { keys: tls.keys } : {}) }),
      obj('b', 'stolen', { certs: tls.certs }),
    ];
    const ids = new Map([['a/web-tls', { name: 'web' }]]);
    expect(
      keyAnomalies(keyHoldings(copied, ids))
        .map((f) => `${f.anomaly} ${f.namespace}/${f.name}`)
        .sort(),
    ).toEqual(['KeyCopied b/stolen', 'KeyReuse a/web-tls', 'KeyReuse b/stolen']);
  });
});

describe('reissue loops', () => {
  const T = Date.parse('2026-12-07T00:00:00Z');
  it('addIssuance keeps the last hour only, at most `keep` times, oldest first, without touching its input', () => {
    const before = [T - 2 * HOUR_MS, T - 10_000, T - 5_000];
    const after = addIssuance(before, T, 3);
    expect(after).toEqual([T - 10_000, T - 5_000, T]);
    expect(before).toHaveLength(3);
    expect(addIssuance(after, T + 1, 2)).toEqual([T, T + 1]);
    let ts: number[] = [];
    for (let i = 0; i < 10_000; i++) ts = addIssuance(ts, T + i, 7);
    expect(ts).toHaveLength(7);
  });
  const cases: [string, number[], number, boolean][] = [
    ['threshold times: no loop', [T - 3, T - 2, T - 1], 3, false],
    ['threshold + 1 times within the hour: a loop', [T - 4, T - 3, T - 2, T - 1], 3, true],
    ['old issuances do not count', [T - 2 * HOUR_MS, T - HOUR_MS, T - 2, T - 1], 3, false],
    ['exactly an hour ago does not count', [T - HOUR_MS, T - 3, T - 2, T - 1], 3, false],
    ['future times (clock skew) do not count', [T + 1000, T - 3, T - 2, T - 1], 3, false],
  ];
  it.each(cases)('%s', (_name, times, threshold, loop) => {
    const fs = reissueLoops(new Map([['a/web', times]]), T, threshold);
    expect(fs.map((f) => [f.anomaly, f.namespace, f.kind, f.name])).toEqual(
      loop ? [['ReissueLoop', 'a', 'MachineIdentity', 'web']] : [],
    );
  });
});

describe('attachAnomalies', () => {
  it("an entry gets its object's findings and its identity's ReissueLoop, muted ones marked", () => {
    const tls = extractFromSecret({ data: { 'tls.crt': b64(leafPem) } });
    const entries = buildEntries({
      objects: [
        obj('a', 'web-tls', {
          certs: tls.certs,
          metadata: { name: 'web-tls', namespace: 'a', labels: { 'machineidentity.io/identity': 'web' } },
        }),
        obj('b', 'other', { certs: tls.certs }),
      ],
      pods: [],
      tls: [],
      knownCas: [],
      identities: new Map([['a/web-tls', { name: 'web' }]]),
      namespaces: new Map(),
      ownerKeys: [],
      policies: [],
    });
    attachAnomalies(entries, [
      { anomaly: 'KeyReuse', namespace: 'a', kind: 'Secret', name: 'web-tls', message: 'm1' },
      { anomaly: 'ReissueLoop', namespace: 'a', kind: 'MachineIdentity', name: 'web', message: 'm2' },
      {
        anomaly: 'KeyCopied',
        namespace: 'b',
        kind: 'Secret',
        name: 'other',
        message: 'm3',
        muted: true,
        muteReason: 'lab',
      },
    ]);
    expect(entries.map((e) => e.anomalies)).toEqual([
      [
        { anomaly: 'KeyReuse', message: 'm1' },
        { anomaly: 'ReissueLoop', message: 'm2' },
      ],
      [{ anomaly: 'KeyCopied', message: 'm3', muted: true, muteReason: 'lab' }],
    ]);
    attachAnomalies(entries, []);
    expect(entries.map((e) => e.anomalies)).toEqual([undefined, undefined]);
  });
});

describe('kubectl mi inventory shows anomalies', () => {
  it('a JSON field, a table column (muted marked) and a CSV column', () => {
    const tls = extractFromSecret({ data: { 'tls.crt': b64(leafPem) } });
    const entries = buildEntries({
      objects: [obj('a', 'web-tls', { certs: tls.certs }), obj('b', 'clean', { certs: tls.certs })],
      pods: [],
      tls: [],
      knownCas: [],
      identities: new Map(),
      namespaces: new Map(),
      ownerKeys: [],
      policies: [],
    });
    attachAnomalies(entries, [
      { anomaly: 'KeyReuse', namespace: 'a', kind: 'Secret', name: 'web-tls', message: 'm1' },
      { anomaly: 'KeyCopied', namespace: 'a', kind: 'Secret', name: 'web-tls', message: 'm2', muted: true },
    ]);
    const rows = entries.map((e) => toRow(e, Date.now()));
    expect(rows.map((r) => r.anomalies.map((a) => a.anomaly))).toEqual([['KeyReuse', 'KeyCopied'], []]);
    const table = formatTable(rows).split('\n');
    expect(table[0]).toMatch(/ANOMALIES$/);
    expect(table[1]).toMatch(/KeyReuse,KeyCopied\(muted\)$/);
    expect(table[2]).toMatch(/ -$/);
    const csv = formatCsv(rows).split('\n');
    expect(csv[0]).toMatch(/,anomalies$/);
    expect(csv[1]).toMatch(/,KeyReuse KeyCopied$/);
  });
});
