// generateCa / loadCaMaterial, the in-cluster CA backend (keys × keys, checked by openssl) and the registry.
import { describe, it, expect, beforeAll } from '@jest/globals';
import { X509Certificate as NodeCert } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { generateCa, loadCaMaterial, type CaMaterial } from '../../src/issuers/ca-material.ts';
import { InClusterCaIssuer } from '../../src/issuers/in-cluster-ca.ts';
import { buildIssuer, backendOf } from '../../src/issuers/registry.ts';
import { SelfSignedIssuer } from '../../src/issuers/self-signed.ts';
import { makeCsr, newKey, opensslVerify, request, secretData, type Alg } from './issuers-fixtures.ts';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

async function caMaterial(alg: Alg, size?: number, durationMs = 30 * DAY): Promise<{ pem: { certPem: string; keyPem: string }; m: CaMaterial }> {
  const pem = await generateCa({ commonName: `${alg} CA`, organizations: ['Example'], durationMs, key: { algorithm: alg, size } });
  const m = loadCaMaterial(secretData({ 'tls.crt': pem.certPem, 'tls.key': pem.keyPem }));
  if (!m.ok) throw new Error(m.message);
  return { pem, m };
}

describe('generateCa', () => {
  it.each([['ECDSA', 384], ['RSA', 2048], ['Ed25519', undefined]] as const)('makes a %s CA with critical basicConstraints and keyUsage, and an SKI', async (alg, size) => {
    const { certPem, keyPem } = await generateCa({ commonName: 'Corp Issuing CA', organizations: ['Example'], durationMs: 10 * DAY, key: { algorithm: alg, size } });
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const cert = new x509.X509Certificate(certPem);
    expect(cert.subject).toBe('O=Example, CN=Corp Issuing CA');
    const bc = cert.getExtension(x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.critical]).toEqual([true, true]);
    const ku = cert.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.critical).toBe(true);
    expect(ku.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)).not.toBeNull();
    const node = new NodeCert(certPem);
    expect(node.ca).toBe(true);
    expect(node.verify(node.publicKey)).toBe(true);
    expect(new Date(node.validTo).getTime() - Date.now()).toBeGreaterThan(10 * DAY - 5000);
  });
});

describe('loadCaMaterial', () => {
  let good: { certPem: string; keyPem: string };
  beforeAll(async () => { good = (await caMaterial('ECDSA')).pem; });

  it('accepts a good CA and reports fingerprint and notAfter', () => {
    const m = loadCaMaterial(secretData({ 'tls.crt': good.certPem, 'tls.key': good.keyPem }));
    if (!m.ok) throw new Error(m.message);
    const node = new NodeCert(good.certPem);
    expect(m.fingerprintSHA256).toBe(node.fingerprint256);
    expect(m.notAfter.getTime()).toBe(new Date(node.validTo).getTime());
    expect(m.selfSigned).toBe(true);
    expect(m.intermediatesPem).toEqual([]);
    expect(m.trustBundlePem.join('')).toContain(good.certPem.trim());
  });

  it('accepts PKCS#1 and SEC1 keys', async () => {
    const rsa = await generateCa({ commonName: 'r', durationMs: DAY, key: { algorithm: 'RSA' } });
    const { createPrivateKey } = await import('node:crypto');
    const pkcs1 = createPrivateKey(rsa.keyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(loadCaMaterial(secretData({ 'tls.crt': rsa.certPem, 'tls.key': pkcs1 })).ok).toBe(true);
    const sec1 = createPrivateKey(good.keyPem).export({ type: 'sec1', format: 'pem' }).toString();
    expect(loadCaMaterial(secretData({ 'tls.crt': good.certPem, 'tls.key': sec1 })).ok).toBe(true);
  });

  it('rejects a certificate that is not a CA', async () => {
    const { m } = await caMaterial('ECDSA');
    const leafKey = await newKey('ECDSA');
    const r = await new InClusterCaIssuer(m).sign(request(await makeCsr(leafKey)));
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    const res = loadCaMaterial(secretData({ 'tls.crt': r.certificatePem, 'tls.key': leafKey.export({ type: 'pkcs8', format: 'pem' }).toString() }));
    expect(res).toMatchObject({ ok: false, reason: 'InvalidCA' });
    expect((res as { message: string }).message).toMatch(/not a CA certificate/);
  });

  it('rejects a key that does not belong to the certificate, without printing the key', async () => {
    const other = await generateCa({ commonName: 'other', durationMs: DAY, key: { algorithm: 'ECDSA' } });
    const res = loadCaMaterial(secretData({ 'tls.crt': good.certPem, 'tls.key': other.keyPem }));
    expect(res).toMatchObject({ ok: false, reason: 'InvalidCA' });
    const msg = (res as { message: string }).message;
    expect(msg).toMatch(/does not belong/);
    const keyBody = other.keyPem.split('\n')[1]!;
    expect(msg).not.toContain(keyBody.slice(0, 16));
  });

  it('reports an expired and a not-yet-valid CA', async () => {
    const old = await generateCa({ commonName: 'old', durationMs: DAY, key: { algorithm: 'ECDSA' }, now: new Date(Date.now() - 10 * DAY) });
    const expired = loadCaMaterial(secretData({ 'tls.crt': old.certPem, 'tls.key': old.keyPem }));
    expect(expired).toMatchObject({ ok: false, reason: 'CAExpired' });
    expect((expired as { fingerprintSHA256?: string }).fingerprintSHA256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const early = loadCaMaterial(secretData({ 'tls.crt': good.certPem, 'tls.key': good.keyPem }), new Date(Date.now() - DAY));
    expect(early).toMatchObject({ ok: false, reason: 'CANotYetValid' });
  });

  it.each([
    ['missing tls.key', (g: { certPem: string }) => ({ 'tls.crt': g.certPem }), /missing: tls\.key/],
    ['garbage tls.crt', (g: { keyPem: string }) => ({ 'tls.crt': 'hello', 'tls.key': g.keyPem }), /no PEM certificate/],
    ['corrupt tls.crt', (g: { keyPem: string }) => ({ 'tls.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'tls.key': g.keyPem }), /cannot be parsed/],
    ['garbage tls.key', (g: { certPem: string }) => ({ 'tls.crt': g.certPem, 'tls.key': 'nope' }), /tls\.key cannot be parsed/],
    ['encrypted tls.key', (g: { certPem: string }) => ({ 'tls.crt': g.certPem, 'tls.key': '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n' }), /encrypted/],
    ['garbage ca.crt', (g: { certPem: string; keyPem: string }) => ({ 'tls.crt': g.certPem, 'tls.key': g.keyPem, 'ca.crt': 'x' }), /ca\.crt contains no PEM/],
  ] as const)('rejects %s as InvalidCA', (_name, files, message) => {
    const res = loadCaMaterial(secretData(files(good)));
    expect(res).toMatchObject({ ok: false, reason: 'InvalidCA' });
    expect((res as { message: string }).message).toMatch(message);
  });
});

describe('InClusterCaIssuer', () => {
  const algs: [Alg, number | undefined][] = [['ECDSA', 256], ['ECDSA', 384], ['RSA', 2048], ['Ed25519', undefined]];
  const cas = new Map<string, CaMaterial>();
  beforeAll(async () => { for (const [a, s] of algs) cas.set(`${a}${s ?? ''}`, (await caMaterial(a, s)).m); });

  const matrix = algs.flatMap(([ca, cs]) => (['ECDSA', 'RSA', 'Ed25519'] as const).map((leaf) => [`${ca}${cs ?? ''}`, leaf] as const));
  it.each(matrix)('%s CA signs a %s leaf that openssl verify accepts', async (caName, leafAlg) => {
    const m = cas.get(caName)!;
    const issuer = new InClusterCaIssuer(m, { maxDurationMs: 90 * DAY });
    expect([issuer.backend, issuer.inProcess]).toEqual(['ca', true]);
    const r = await issuer.sign(request(await makeCsr(await newKey(leafAlg), { subject: 'CN=svc', sans: [{ type: 'dns', value: 'svc.ns.svc' }] })));
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    expect(r.authorityFingerprintSHA256).toBe(m.fingerprintSHA256);
    expect(r.chainPem).toEqual([]);
    expect(opensslVerify(r.caPem, r.certificatePem)).toMatch(/: OK/);
  });

  it('an intermediate CA (with ca.crt = root) returns the intermediate as chain and the root as caPem', async () => {
    const root = cas.get('ECDSA384')!;
    const interKey = await newKey('ECDSA');
    const ir = await new InClusterCaIssuer(root).sign(request(await makeCsr(interKey, { subject: 'CN=Intermediate CA', isCA: true }), { isCA: true, usages: ['certSign', 'crlSign', 'digitalSignature'] }));
    if (ir.status !== 'issued') throw new Error(JSON.stringify(ir));
    const m = loadCaMaterial(secretData({ 'tls.crt': ir.certificatePem, 'tls.key': interKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'ca.crt': root.certPem }));
    if (!m.ok) throw new Error(m.message);
    expect(m.selfSigned).toBe(false);
    const r = await new InClusterCaIssuer(m).sign(request(await makeCsr(await newKey('RSA'))));
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    expect(r.chainPem).toEqual([ir.certificatePem]);
    expect(r.caPem).toBe(root.certPem);
    expect(r.authorityFingerprintSHA256).toBe(m.fingerprintSHA256);
    expect(opensslVerify(r.caPem, r.certificatePem, r.chainPem)).toMatch(/: OK/);
    expect(() => opensslVerify(r.caPem, r.certificatePem)).toThrow(); // the intermediate is needed
  });

  it('health reports the CA, and CAExpired once its notAfter has passed', async () => {
    const m = cas.get('ECDSA256')!;
    const h = await new InClusterCaIssuer(m).health();
    expect(h).toMatchObject({ ready: true, caFingerprintSHA256: m.fingerprintSHA256 });
    expect(h.caBundlePem).toContain('BEGIN CERTIFICATE');
    const late = await new InClusterCaIssuer(m, { now: () => new Date(m.notAfter.getTime() + 1000) }).health();
    expect(late).toMatchObject({ ready: false, reason: 'CAExpired' });
  });

  it('throughput: ECDSA P-256 CA, ECDSA P-256 leaves (printed)', async () => {
    const issuer = new InClusterCaIssuer(cas.get('ECDSA256')!, { maxDurationMs: 90 * DAY });
    const csrs = await Promise.all(Array.from({ length: 20 }, async (_v, i) => makeCsr(await newKey('ECDSA'), { subject: `CN=svc-${i}`, sans: [{ type: 'dns', value: `svc-${i}.ns.svc` }] })));
    for (const c of csrs.slice(0, 5)) await issuer.sign(request(c)); // warm-up
    const n = 400;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const r = await issuer.sign(request(csrs[i % csrs.length]!));
      if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    }
    const perSec = n / ((performance.now() - t0) / 1000);
    console.log(`InClusterCaIssuer throughput (ECDSA P-256 CA, sequential, one core): ${perSec.toFixed(0)} signatures/s`);
    expect(perSec).toBeGreaterThan(50); // generous floor for a loaded CI machine; the target is 100+/s
  });
});

describe('registry', () => {
  it('picks the backend of a spec', () => {
    expect(backendOf({ selfSigned: {} })).toBe('selfSigned');
    expect(backendOf({ ca: { secretRef: { name: 'x' } } })).toBe('ca');
    expect(backendOf({})).toBeUndefined();
    expect(backendOf({ ca: {}, selfSigned: {} })).toBeUndefined();
  });

  it('builds selfSigned and ca issuers', async () => {
    const r = buildIssuer({ selfSigned: {} });
    expect('issuer' in r && r.issuer).toBeInstanceOf(SelfSignedIssuer);
    const { m } = await caMaterial('ECDSA');
    const c = buildIssuer({ ca: { secretRef: { name: 'x' } } }, m, { maxDurationMs: HOUR });
    expect('issuer' in c && c.issuer).toBeInstanceOf(InClusterCaIssuer);
    expect(buildIssuer({ ca: { secretRef: { name: 'x' } } })).toMatchObject({ reason: 'CASecretNotFound' });
  });

  it.each(['acme', 'vault', 'stepCA', 'cfssl', 'kubernetes'])('answers BackendNotSupported for %s, naming the backend', (b) => {
    const r = buildIssuer({ [b]: {} });
    expect(r).toMatchObject({ reason: 'BackendNotSupported' });
    expect((r as { message: string }).message).toContain(`backend ${b} is not supported`);
  });

  it('answers InvalidSpec when no backend or several are set', () => {
    expect(buildIssuer({})).toMatchObject({ reason: 'InvalidSpec' });
  });
});
