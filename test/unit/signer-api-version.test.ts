// Which certificates.k8s.io version the signer and the trust-bundle publisher use (v1 on 1.37,
// v1beta1 on 1.35/1.36, none before), how discovery is cached and asked again, when the PCR watch
// switches, what is logged, and the PodCertificateRequest key read in the parse pool with its budget.
import { describe, it, expect, afterAll } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import {
  CertificatesApi,
  certificatesPath,
  chooseVersion,
  REDISCOVER_MS,
  servedVersions,
  type CertificatesVersion,
} from '../../src/controllers/signer/certificates-api.ts';
import { switchTo } from '../../src/controllers/signer/pod-certificate-requests.ts';
import { servedMessage } from '../../src/controllers/signer/served-report.ts';
import { keyFields, keyFieldsRefusal, MAX_KEY_FIELD_CHARS } from '../../src/controllers/signer/pod-certificate.ts';
import { Parser } from '../../src/parsing/parser.ts';
import { stubCsr } from '../harness/stub-csr.ts';

const BOTH = ['podcertificaterequests', 'podcertificaterequests/status', 'clustertrustbundles'];

describe('chooseVersion / servedVersions', () => {
  it.each([
    { server: '1.37 (v1 only, the default)', listed: { v1: BOTH, v1beta1: [] }, want: 'v1' },
    { server: '1.37 with v1beta1 still on', listed: { v1: BOTH, v1beta1: BOTH }, want: 'v1' },
    {
      server: '1.36 with gate and runtime-config',
      listed: { v1: ['certificatesigningrequests'], v1beta1: BOTH },
      want: 'v1beta1',
    },
    { server: '1.32 (neither)', listed: { v1: ['certificatesigningrequests'] }, want: undefined },
    {
      server: 'a server that lists only the status subresource',
      listed: { v1: ['podcertificaterequests/status'] },
      want: undefined,
    },
  ])('$server → $want', ({ listed, want }) => {
    expect(chooseVersion(listed, 'podcertificaterequests')).toBe(want);
  });

  it('chooses per resource (1.33-1.36 with only ClusterTrustBundle on)', () => {
    expect(servedVersions({ v1: ['certificatesigningrequests'], v1beta1: ['clustertrustbundles'] })).toEqual({
      clustertrustbundles: 'v1beta1',
    });
    expect(servedVersions({ v1: BOTH, v1beta1: BOTH })).toEqual({
      podcertificaterequests: 'v1',
      clustertrustbundles: 'v1',
    });
    expect(servedVersions({})).toEqual({});
  });

  it('paths', () => {
    expect(certificatesPath('v1', 'podcertificaterequests', 'a b')).toBe(
      '/apis/certificates.k8s.io/v1/namespaces/a%20b/podcertificaterequests',
    );
    expect(certificatesPath('v1beta1', 'clustertrustbundles')).toBe(
      '/apis/certificates.k8s.io/v1beta1/clustertrustbundles',
    );
  });
});

describe('CertificatesApi (cached discovery)', () => {
  function fake(): {
    api: CertificatesApi;
    calls: CertificatesVersion[];
    serve: (l: Partial<Record<CertificatesVersion, string[] | Error>>) => void;
    advance: (ms: number) => void;
  } {
    let now = 0;
    let listed: Partial<Record<CertificatesVersion, string[] | Error>> = {};
    const calls: CertificatesVersion[] = [];
    const api = new CertificatesApi(
      async (v) => {
        calls.push(v);
        const r = listed[v];
        if (r instanceof Error) throw r;
        return r ?? [];
      },
      () => now,
    );
    return { api, calls, serve: (l) => (listed = l), advance: (ms) => (now += ms) };
  }

  it('asks once, then answers from the cache until REDISCOVER_MS', async () => {
    const f = fake();
    f.serve({ v1beta1: BOTH });
    expect(await f.api.version('podcertificaterequests')).toBe('v1beta1');
    expect(await f.api.version('clustertrustbundles')).toBe('v1beta1');
    expect(f.calls).toEqual(['v1', 'v1beta1']);
    f.serve({ v1: BOTH }); // the server was upgraded
    f.advance(REDISCOVER_MS - 1);
    expect(await f.api.version('podcertificaterequests')).toBe('v1beta1');
    f.advance(1);
    expect(await f.api.version('podcertificaterequests')).toBe('v1');
    expect(f.calls).toHaveLength(4);
  });

  it('refresh() asks again at once (a 404 on the chosen path)', async () => {
    const f = fake();
    f.serve({ v1beta1: BOTH });
    expect(await f.api.version('podcertificaterequests')).toBe('v1beta1');
    f.serve({ v1: BOTH });
    expect((await f.api.refresh()).podcertificaterequests).toBe('v1');
    expect(await f.api.version('podcertificaterequests')).toBe('v1');
  });

  it('a failed discovery rejects and is not cached', async () => {
    const f = fake();
    f.serve({ v1: new Error('connection refused') });
    await expect(f.api.version('podcertificaterequests')).rejects.toThrow('connection refused');
    f.serve({ v1: BOTH });
    expect(await f.api.version('podcertificaterequests')).toBe('v1');
  });

  it('neither served is an answer (cached like any other)', async () => {
    const f = fake();
    f.serve({ v1: ['certificatesigningrequests'] });
    expect(await f.api.served()).toEqual({});
    await f.api.served();
    expect(f.calls).toHaveLength(2);
  });
});

describe('switchTo (the PCR watch follows discovery)', () => {
  it.each([
    { current: 'v1beta1' as const, preferred: 'v1' as const, want: 'v1' },
    { current: 'v1' as const, preferred: 'v1' as const, want: undefined },
    { current: 'v1' as const, preferred: 'v1beta1' as const, want: 'v1beta1' },
    { current: 'v1beta1' as const, preferred: undefined, want: undefined },
  ])('watching $current, discovery prefers $preferred → $want', ({ current, preferred, want }) => {
    expect(switchTo(current, preferred)).toBe(want);
  });
});

describe('servedMessage (logged once per change)', () => {
  it('warns with what to turn on when neither version is served, once', () => {
    const first = servedMessage('podcertificaterequests', undefined, undefined);
    expect(first?.level).toBe('warn');
    expect(first?.message).toMatch(/not served.*1\.37 serves certificates\.k8s\.io\/v1.*PodCertificateRequest=true/);
    expect(servedMessage('podcertificaterequests', undefined, 'none')).toBeUndefined();
  });
  it('says the version in use, and again when it changes', () => {
    expect(servedMessage('clustertrustbundles', 'v1', undefined)).toEqual({
      level: 'info',
      message: 'clustertrustbundles: using certificates.k8s.io/v1',
    });
    expect(servedMessage('clustertrustbundles', 'v1', 'v1')).toBeUndefined();
    expect(servedMessage('clustertrustbundles', 'v1', 'v1beta1')?.level).toBe('info');
    expect(servedMessage('clustertrustbundles', undefined, 'v1')?.level).toBe('warn');
  });
});

describe('PodCertificateRequest key: budget, then the parse pool', () => {
  const parser = new Parser();
  afterAll(() => parser.close());
  const podUID = '6f1c2b1e-0000-4000-8000-000000000001';

  it('keyFields sends the pool only the key fields', () => {
    expect(
      keyFields({
        signerName: 's',
        podName: 'p',
        podUID,
        serviceAccountName: 'sa',
        stubPKCS10Request: 'AA==',
        unverifiedUserAnnotations: { a: 'b' },
      }),
    ).toEqual({ podUID, stubPKCS10Request: 'AA==' });
  });

  it.each([
    { field: 'stubPKCS10Request' as const, len: MAX_KEY_FIELD_CHARS, refused: false },
    { field: 'stubPKCS10Request' as const, len: MAX_KEY_FIELD_CHARS + 1, refused: true },
    { field: 'pkixPublicKey' as const, len: MAX_KEY_FIELD_CHARS + 4, refused: true },
    { field: 'proofOfPossession' as const, len: 10 * MAX_KEY_FIELD_CHARS, refused: true },
  ])('$field of $len characters refused: $refused', ({ field, len, refused }) => {
    const r = keyFieldsRefusal({ podUID, [field]: 'A'.repeat(len) });
    if (refused) expect(r).toMatchObject({ ok: false, reason: 'InvalidRequest' });
    else expect(r).toBeUndefined();
  });

  it.each([
    { name: 'ECDSA P-256', key: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }), want: 'ECDSA' },
    { name: 'Ed25519', key: () => generateKeyPairSync('ed25519'), want: 'Ed25519' },
    { name: 'RSA 3072', key: () => generateKeyPairSync('rsa', { modulusLength: 3072 }), want: 'RSA' },
  ])('the stub CSR of a $name key gives that key', async ({ key, want }) => {
    const k = key();
    const r = await parser.podCertificateKey({ podUID, stubPKCS10Request: stubCsr(k.privateKey).toString('base64') });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.algorithm).toBe(want);
    expect(Buffer.isBuffer(r.spkiDer)).toBe(true);
    expect(r.spkiDer.equals(k.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(r.publicKey.equals(k.publicKey)).toBe(true);
  });

  it.each([
    {
      name: 'an RSA 2048 key',
      stub: () => stubCsr(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey).toString('base64'),
      reason: 'UnsupportedKeyType',
    },
    {
      name: 'an ECDSA P-256K key',
      stub: () => stubCsr(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey).toString('base64'),
      reason: 'UnsupportedKeyType',
    },
    {
      name: 'bytes that are no CSR',
      stub: () => Buffer.from('not a csr').toString('base64'),
      reason: 'InvalidRequest',
    },
    { name: 'an empty stub', stub: () => '', reason: 'InvalidRequest' },
  ])('$name is denied with $reason', async ({ stub, reason }) => {
    expect(await parser.podCertificateKey({ podUID, stubPKCS10Request: stub() })).toMatchObject({ ok: false, reason });
  });
});
