// sign-from-csr and the selfSigned backend.
import { describe, it, expect, beforeAll } from '@jest/globals';
import { X509Certificate as NodeCert, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { cappedNotAfter, parseAndVerifyCsr, signFromCsr, toSigningKey, normaliseFingerprint, BACKDATE_MS } from '../../src/issuers/sign-from-csr.ts';
import { SelfSignedIssuer } from '../../src/issuers/self-signed.ts';
import { generateCa, loadCaMaterial } from '../../src/issuers/ca-material.ts';
import { InClusterCaIssuer } from '../../src/issuers/in-cluster-ca.ts';
import { makeCsr, newKey, opensslVerify, request, secretData, serialOctets } from './issuers-fixtures.ts';

const HOUR = 3600_000;

describe('sign-from-csr', () => {
  let leafKey: KeyObject;
  let ca: InClusterCaIssuer;
  beforeAll(async () => {
    leafKey = await newKey('ECDSA');
    const g = await generateCa({ commonName: 'Unit CA', durationMs: 30 * 24 * HOUR, key: { algorithm: 'ECDSA' } });
    const m = loadCaMaterial(secretData({ 'tls.crt': g.certPem, 'tls.key': g.keyPem }));
    if (!m.ok) throw new Error(m.message);
    ca = new InClusterCaIssuer(m, { maxDurationMs: 90 * 24 * HOUR });
  });

  it('copies the subject DN and the SAN extension verbatim from the CSR', async () => {
    const sans: x509.JsonGeneralName[] = [
      { type: 'dns', value: 'payments-api.payments.svc' }, { type: 'dns', value: '*.example.com' },
      { type: 'ip', value: '10.0.0.10' }, { type: 'ip', value: '2001:db8::1' },
      { type: 'url', value: 'spiffe://cluster.local/ns/payments/sa/api' }, { type: 'email', value: 'ops@example.com' },
    ];
    const subject: x509.JsonName = [{ C: ['DE'] }, { O: ['Example, Inc. +"quoted"'] }, { OU: ['Payments', 'Core'] }, { CN: ['payments-api'] }];
    const csrPem = await makeCsr(leafKey, { subject, sans });
    const r = await ca.sign(request(csrPem, { usages: ['serverAuth', 'clientAuth'] }));
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    const cert = new x509.X509Certificate(r.certificatePem);
    expect(Buffer.from(cert.subjectName.toArrayBuffer())).toEqual(Buffer.from(csr.subjectName.toArrayBuffer()));
    expect(Buffer.from(cert.getExtension('2.5.29.17')!.value)).toEqual(Buffer.from(csr.getExtension('2.5.29.17')!.value));
    expect(new NodeCert(r.certificatePem).subjectAltName).toContain('URI:spiffe://cluster.local/ns/payments/sa/api');
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)!;
    expect(eku.usages).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.getExtension(x509.BasicConstraintsExtension)!.ca).toBe(false);
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)).not.toBeNull();
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)).not.toBeNull();
  });

  it('takes key usage and EKU from the CSR extensionRequest when present', async () => {
    const csrPem = await makeCsr(leafKey, { sans: [{ type: 'dns', value: 'a.example.com' }], extraExtensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.2']),
    ] });
    const r = await ca.sign(request(csrPem, { usages: ['serverAuth'] }));
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    const cert = new x509.X509Certificate(r.certificatePem);
    expect(cert.getExtension(x509.KeyUsagesExtension)!.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  it('backdates notBefore by 60 s and caps notAfter at maxDuration', async () => {
    const g = await generateCa({ commonName: 'Cap CA', durationMs: 365 * 24 * HOUR, key: { algorithm: 'ECDSA' } });
    const m = loadCaMaterial(secretData({ 'tls.crt': g.certPem, 'tls.key': g.keyPem }));
    if (!m.ok) throw new Error(m.message);
    const now = new Date('2030-01-01T00:00:00.000Z');
    const capped = new InClusterCaIssuer({ ...m, notAfter: new Date('2031-01-01T00:00:00Z') }, { maxDurationMs: HOUR, now: () => now });
    const r = await capped.sign(request(await makeCsr(leafKey), { durationMs: 10 * HOUR }));
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    const cert = new x509.X509Certificate(r.certificatePem);
    expect(cert.notBefore.getTime()).toBe(now.getTime() - BACKDATE_MS);
    expect(cert.notAfter.getTime()).toBe(now.getTime() + HOUR);
  });

  it('caps notAfter at the CA certificate\'s notAfter', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const caEnd = new Date('2030-01-01T02:00:00Z');
    expect(cappedNotAfter({ now, durationMs: 10 * HOUR, maxDurationMs: 5 * HOUR, isCA: false, usages: [] }, caEnd)).toEqual(caEnd);
    expect(cappedNotAfter({ now, durationMs: HOUR, isCA: false, usages: [] }, caEnd)).toEqual(new Date('2030-01-01T01:00:00Z'));
  });

  it('a CA close to expiry issues only up to its own notAfter', async () => {
    const g = await generateCa({ commonName: 'Short CA', durationMs: 2 * HOUR, key: { algorithm: 'ECDSA' } });
    const m = loadCaMaterial(secretData({ 'tls.crt': g.certPem, 'tls.key': g.keyPem }));
    if (!m.ok) throw new Error(m.message);
    const r = await new InClusterCaIssuer(m).sign(request(await makeCsr(leafKey), { durationMs: 90 * 24 * HOUR }));
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    expect(new x509.X509Certificate(r.certificatePem).notAfter.getTime()).toBe(m.notAfter.getTime());
  });

  it('denies a CSR whose signature does not verify', async () => {
    const pem = await makeCsr(leafKey);
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    der[der.length - 5] = der[der.length - 5]! ^ 0xff; // inside the signature value
    const bad = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const r = await ca.sign(request(bad));
    expect(r).toMatchObject({ status: 'denied', reason: 'InvalidCSR' });
    expect((r as { message: string }).message).toMatch(/signature does not verify/);
  });

  it('denies garbage and a CSR without any name', async () => {
    expect(await ca.sign(request('not a csr'))).toMatchObject({ status: 'denied', reason: 'InvalidCSR' });
    const anonymous = await makeCsr(leafKey, { subject: [] });
    expect(await ca.sign(request(anonymous))).toMatchObject({ status: 'denied', reason: 'InvalidCSR' });
  });

  it('denies a CSR that asks for CA:TRUE when the identity did not ask for isCA', async () => {
    const pem = await makeCsr(leafKey, { isCA: true });
    const r = await ca.sign(request(pem, { isCA: false }));
    expect(r).toMatchObject({ status: 'denied', reason: 'CSRRequestsCA' });
    const ok = await ca.sign(request(pem, { isCA: true }));
    if (ok.status !== 'issued') throw new Error(JSON.stringify(ok));
    const cert = new x509.X509Certificate(ok.certificatePem);
    expect(cert.getExtension(x509.BasicConstraintsExtension)!.ca).toBe(true);
    expect(cert.getExtension(x509.KeyUsagesExtension)!.usages & x509.KeyUsageFlags.keyCertSign).toBeTruthy();
  });

  it('serial numbers are positive, 128-bit random and unique', async () => {
    const pem = await makeCsr(leafKey);
    const seen = new Set<string>();
    for (let i = 0; i < 64; i++) {
      const r = await ca.sign(request(pem));
      if (r.status !== 'issued') throw new Error(JSON.stringify(r));
      const s = serialOctets(r.certificatePem);
      expect(s[0]! & 0x80).toBe(0); // positive INTEGER
      expect(s.length).toBeLessThanOrEqual(17);
      expect(s.length).toBeGreaterThanOrEqual(14); // 128 random bits: shorter only with leading zero bytes
      seen.add(s.toString('hex'));
    }
    expect(seen.size).toBe(64);
  });

  it('parseAndVerifyCsr accepts RSA and Ed25519 CSRs', async () => {
    for (const alg of ['RSA', 'Ed25519'] as const) {
      const r = await parseAndVerifyCsr(await makeCsr(await newKey(alg)));
      expect(r.ok).toBe(true);
    }
  });

  it('signFromCsr refuses to issue from an expired CA', async () => {
    const parsed = await parseAndVerifyCsr(await makeCsr(leafKey));
    if (!parsed.ok) throw new Error(parsed.message);
    const s = toSigningKey(leafKey)!;
    const r = await signFromCsr(parsed.csr, { signingKey: s.key, algorithm: s.algorithm, notAfter: new Date(Date.now() - 1000) },
      { now: new Date(), durationMs: HOUR, isCA: false, usages: [] });
    expect(r).toMatchObject({ ok: false, reason: 'CAExpired' });
  });

  it('normalises fingerprints to colon-separated upper case', () => {
    expect(normaliseFingerprint('abcd' + '0'.repeat(60))).toBe(`AB:CD:${Array(30).fill('00').join(':')}`);
    expect(normaliseFingerprint('ab:cd')).toBe('AB:CD');
  });
});

describe('SelfSignedIssuer', () => {
  it.each(['ECDSA', 'RSA', 'Ed25519'] as const)('signs a %s identity with its own key; the certificate is its own CA', async (alg) => {
    const key = await newKey(alg);
    const issuer = new SelfSignedIssuer({ maxDurationMs: 2 * HOUR });
    expect(issuer.backend).toBe('selfSigned');
    expect(issuer.inProcess).toBe(true);
    expect((await issuer.health()).ready).toBe(true);
    const r = await issuer.sign(request(await makeCsr(key, { subject: 'CN=self', sans: [{ type: 'dns', value: 'self.example.com' }] }),
      { privateKey: key, durationMs: 24 * HOUR }));
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    expect(r.caPem).toBe(r.certificatePem);
    expect(r.chainPem).toEqual([]);
    const node = new NodeCert(r.certificatePem);
    expect(r.authorityFingerprintSHA256).toBe(node.fingerprint256);
    expect(node.issuer).toBe(node.subject); // (checkIssued also demands keyCertSign, which a self-signed leaf lacks)
    expect(node.verify(node.publicKey)).toBe(true);
    expect(new Date(node.validTo).getTime() - Date.now()).toBeLessThanOrEqual(2 * HOUR);
    expect(opensslVerify(r.caPem, r.certificatePem)).toMatch(/OK/);
  });

  it('is denied without the identity\'s private key, or with a key that does not match the CSR', async () => {
    const key = await newKey('ECDSA');
    const issuer = new SelfSignedIssuer();
    const pem = await makeCsr(key);
    expect(await issuer.sign(request(pem))).toMatchObject({ status: 'denied', reason: 'PrivateKeyRequired' });
    expect(await issuer.sign(request(pem, { privateKey: await newKey('ECDSA') }))).toMatchObject({ status: 'denied', reason: 'PrivateKeyMismatch' });
  });
});
