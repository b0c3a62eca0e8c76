import { describe, it, expect } from '@jest/globals';
import { constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  annotationsRefusal,
  requestKey,
  spiffeId,
  validity,
  type PcrSpec,
} from '../../src/controllers/signer/pod-certificate.ts';
import { contractUsages, csrDurationMs } from '../../src/controllers/signer/csr.ts';
import { stubCsr } from '../harness/stub-csr.ts';

const H = 3_600_000;
const base: PcrSpec = {
  signerName: 'machineidentity.io/pods',
  podName: 'web',
  podUID: '6f1c2b1e-0000-4000-8000-000000000001',
  serviceAccountName: 'app',
};

const stub = (key: KeyObject): string => stubCsr(key).toString('base64');
function pkix(k: { privateKey: KeyObject; publicKey: KeyObject }, uid = base.podUID, rsa = false): Partial<PcrSpec> {
  const data = Buffer.from(uid);
  const proof = rsa
    ? sign('sha256', data, { key: k.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
    : sign(k.publicKey.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, k.privateKey);
  return {
    pkixPublicKey: k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    proofOfPossession: proof.toString('base64'),
  };
}
const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
const ed = generateKeyPairSync('ed25519');
const rsa3072 = generateKeyPairSync('rsa', { modulusLength: 3072 });
const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });

describe('requestKey', () => {
  it.each([
    { name: 'stub ECDSA P-256', spec: { stubPKCS10Request: stub(ec256.privateKey) }, want: 'ECDSA/256' },
    { name: 'stub Ed25519', spec: { stubPKCS10Request: stub(ed.privateKey) }, want: 'Ed25519/' },
    { name: 'stub RSA 3072', spec: { stubPKCS10Request: stub(rsa3072.privateKey) }, want: 'RSA/3072' },
    { name: 'pkix ECDSA P-521 with proof', spec: pkix(ec521), want: 'ECDSA/521' },
    { name: 'pkix Ed25519 with proof', spec: pkix(ed), want: 'Ed25519/' },
    { name: 'pkix RSA 3072 with RSA-PSS proof', spec: pkix(rsa3072, base.podUID, true), want: 'RSA/3072' },
    {
      name: 'stub wins over pkix',
      spec: { stubPKCS10Request: stub(ec256.privateKey), ...pkix(ed) },
      want: 'ECDSA/256',
    },
    {
      name: 'RSA 2048 is not supported',
      spec: { stubPKCS10Request: stub(rsa2048.privateKey) },
      want: 'UnsupportedKeyType',
    },
    { name: 'secp256k1 is not supported', spec: pkix(secp256k1), want: 'UnsupportedKeyType' },
    { name: 'proof over another pod UID', spec: pkix(ec256, 'another-uid'), want: 'InvalidProofOfPossession' },
    {
      name: 'proof by another key',
      spec: { ...pkix(ec256), pkixPublicKey: ed.publicKey.export({ type: 'spki', format: 'der' }).toString('base64') },
      want: 'InvalidProofOfPossession',
    },
    {
      name: 'garbage public key',
      spec: { pkixPublicKey: Buffer.from('nope').toString('base64'), proofOfPossession: '' },
      want: 'InvalidRequest',
    },
    {
      name: 'garbage stub',
      spec: { stubPKCS10Request: Buffer.from('0123').toString('base64') },
      want: 'InvalidRequest',
    },
    { name: 'neither form', spec: {}, want: 'InvalidRequest' },
  ])('$name', ({ spec, want }) => {
    const r = requestKey({ ...base, ...spec });
    expect(r.ok ? `${r.algorithm}/${r.size ?? ''}` : r.reason).toBe(want);
  });
});

describe('annotationsRefusal', () => {
  it('refuses any unverifiedUserAnnotations key, accepts none', () => {
    expect(annotationsRefusal(base, 'machineidentity.io/pods')).toBeUndefined();
    expect(annotationsRefusal({ ...base, unverifiedUserAnnotations: {} }, 'machineidentity.io/pods')).toBeUndefined();
    expect(
      annotationsRefusal({ ...base, unverifiedUserAnnotations: { 'example.com/x': 'y' } }, 'machineidentity.io/pods'),
    ).toMatchObject({
      reason: 'InvalidUnverifiedUserAnnotations',
      message: expect.stringContaining('"example.com/x"'),
    });
  });
});

describe('validity', () => {
  const now = new Date('2026-11-28T10:00:00.750Z');
  it.each([
    { name: 'default 24h request, signer 24h', max: undefined, signer: 24 * H, binding: undefined, lifetime: 24 * H },
    { name: 'signer caps at 2h', max: 86_400, signer: 2 * H, binding: undefined, lifetime: 2 * H },
    { name: 'request asks 1h', max: 3600, signer: 24 * H, binding: undefined, lifetime: H },
    { name: 'binding maxDuration caps', max: 86_400, signer: 24 * H, binding: 6 * H, lifetime: 6 * H },
    { name: 'never under 1 hour', max: 3600, signer: 24 * H, binding: 30 * 60_000, lifetime: H },
  ])('$name', ({ max, signer, binding, lifetime }) => {
    const v = validity(now, { ...base, ...(max ? { maxExpirationSeconds: max } : {}) }, signer, binding);
    expect(v.notAfter.getTime() - v.notBefore.getTime()).toBe(lifetime);
    expect(v.notBefore.getTime() % 1000).toBe(0);
    expect(now.getTime() - v.notBefore.getTime()).toBeGreaterThanOrEqual(2 * 60_000);
    expect(now.getTime() - v.notBefore.getTime()).toBeLessThan(5 * 60_000);
    // the API's window for beginRefreshAt
    expect(v.beginRefreshAt.getTime()).toBeGreaterThanOrEqual(v.notBefore.getTime() + 10 * 60_000);
    expect(v.beginRefreshAt.getTime()).toBeLessThanOrEqual(v.notAfter.getTime() - 10 * 60_000);
  });
  it('SPIFFE ID', () => expect(spiffeId('example.org', 'pay', 'api')).toBe('spiffe://example.org/ns/pay/sa/api'));
});

describe('CSR helpers', () => {
  it('maps certificates.k8s.io usages and reports unknown ones', () => {
    expect(contractUsages(['digital signature', 'key encipherment', 'server auth', 'client auth'])).toEqual({
      usages: ['digitalSignature', 'keyEncipherment', 'serverAuth', 'clientAuth'],
      unknown: [],
    });
    expect(contractUsages(['signing', 'telepathy']).unknown).toEqual(['telepathy']);
  });
  it('duration: expirationSeconds, else a day, capped by the binding', () => {
    expect(csrDurationMs(600, undefined)).toBe(600_000);
    expect(csrDurationMs(undefined, undefined)).toBe(24 * H);
    expect(csrDurationMs(7 * 24 * 3600, 48 * H)).toBe(48 * H);
  });
});
