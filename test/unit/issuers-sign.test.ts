// sign-from-csr and the selfSigned backend.
import { describe, it, expect, beforeAll } from '@jest/globals';
import { X509Certificate as NodeCert, createHash, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { signFromCsr, type CertificateTemplate } from '../../src/issuers/sign-from-csr.ts';
import { BACKDATE_MS, cappedNotAfter } from '../../src/issuers/lifetime.ts';
import { parseAndVerifyCsr } from '../../src/issuers/csr-checks.ts';
import { toSigningKey } from '../../src/pki/webcrypto-signing.ts';
import { normaliseFingerprint } from '../../src/pki/fingerprint.ts';
import { randomSerial } from '../../src/pki/serial.ts';
import { SelfSignedIssuer } from '../../src/issuers/self-signed.ts';
import { generateCa, loadCaMaterial, type CaMaterial } from '../../src/issuers/ca-material.ts';
import { parseCertificate } from '../../src/pki/certs.ts';
import { certificateOutline } from '../../src/pki/outlines.ts';
import { encodeSan } from '../../src/pki/names.ts';
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
      { type: 'dns', value: 'payments-api.payments.svc' },
      { type: 'dns', value: '*.example.com' },
      { type: 'ip', value: '10.0.0.10' },
      { type: 'ip', value: '2001:db8::1' },
      { type: 'url', value: 'spiffe://cluster.local/ns/payments/sa/api' },
      { type: 'email', value: 'ops@example.com' },
    ];
    const subject: x509.JsonName = [
      { C: ['DE'] },
      { O: ['Example, Inc. +"quoted"'] },
      { OU: ['Payments', 'Core'] },
      { CN: ['payments-api'] },
    ];
    const csrPem = await makeCsr(leafKey, { subject, sans });
    const r = await ca.sign(request(csrPem, { usages: ['serverAuth', 'clientAuth'] }));
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    const cert = new x509.X509Certificate(r.certificatePem);
    expect(Buffer.from(cert.subjectName.toArrayBuffer())).toEqual(Buffer.from(csr.subjectName.toArrayBuffer()));
    expect(Buffer.from(cert.getExtension('2.5.29.17')!.value)).toEqual(
      Buffer.from(csr.getExtension('2.5.29.17')!.value),
    );
    expect(new NodeCert(r.certificatePem).subjectAltName).toContain('URI:spiffe://cluster.local/ns/payments/sa/api');
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)!;
    expect(eku.usages).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.getExtension(x509.BasicConstraintsExtension)!.ca).toBe(false);
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)).not.toBeNull();
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)).not.toBeNull();
  });

  it('takes key usage and EKU from the CSR extensionRequest when present', async () => {
    const csrPem = await makeCsr(leafKey, {
      sans: [{ type: 'dns', value: 'a.example.com' }],
      extraExtensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.2']),
      ],
    });
    const r = await ca.sign(request(csrPem, { usages: ['serverAuth'] }));
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    const cert = new x509.X509Certificate(r.certificatePem);
    expect(cert.getExtension(x509.KeyUsagesExtension)!.usages).toBe(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
    );
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  it('backdates notBefore by 60 s and caps notAfter at maxDuration', async () => {
    const g = await generateCa({ commonName: 'Cap CA', durationMs: 365 * 24 * HOUR, key: { algorithm: 'ECDSA' } });
    const m = loadCaMaterial(secretData({ 'tls.crt': g.certPem, 'tls.key': g.keyPem }));
    if (!m.ok) throw new Error(m.message);
    const now = new Date('2030-01-01T00:00:00.000Z');
    const capped = new InClusterCaIssuer(
      { ...m, notAfter: new Date('2031-01-01T00:00:00Z') },
      { maxDurationMs: HOUR, now: () => now },
    );
    const r = await capped.sign(request(await makeCsr(leafKey), { durationMs: 10 * HOUR }));
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    const cert = new x509.X509Certificate(r.certificatePem);
    expect(cert.notBefore.getTime()).toBe(now.getTime() - BACKDATE_MS);
    expect(cert.notAfter.getTime()).toBe(now.getTime() + HOUR);
  });

  it("caps notAfter at the CA certificate's notAfter", () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const caEnd = new Date('2030-01-01T02:00:00Z');
    expect(cappedNotAfter({ now, durationMs: 10 * HOUR, maxDurationMs: 5 * HOUR }, caEnd)).toEqual(caEnd);
    expect(cappedNotAfter({ now, durationMs: HOUR }, caEnd)).toEqual(new Date('2030-01-01T01:00:00Z'));
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
    const r = await signFromCsr(
      parsed.csr,
      { signingKey: s.key, algorithm: s.algorithm, notAfter: new Date(Date.now() - 1000) },
      { now: new Date(), durationMs: HOUR, isCA: false, usages: [] },
    );
    expect(r).toMatchObject({ ok: false, reason: 'CAExpired' });
  });

  it('normalises fingerprints to colon-separated upper case', () => {
    expect(normaliseFingerprint('abcd' + '0'.repeat(60))).toBe(`AB:CD:${Array(30).fill('00').join(':')}`);
    expect(normaliseFingerprint('ab:cd')).toBe('AB:CD');
  });
});

describe('SelfSignedIssuer', () => {
  it.each(['ECDSA', 'RSA', 'Ed25519'] as const)(
    'signs a %s identity with its own key; the certificate is its own CA',
    async (alg) => {
      const key = await newKey(alg);
      const issuer = new SelfSignedIssuer({ maxDurationMs: 2 * HOUR });
      expect(issuer.backend).toBe('selfSigned');
      expect(issuer.inProcess).toBe(true);
      expect((await issuer.health()).ready).toBe(true);
      const r = await issuer.sign(
        request(await makeCsr(key, { subject: 'CN=self', sans: [{ type: 'dns', value: 'self.example.com' }] }), {
          privateKey: key,
          durationMs: 24 * HOUR,
        }),
      );
      if (r.status !== 'issued') throw new Error(JSON.stringify(r));
      expect(r.caPem).toBe(r.certificatePem);
      expect(r.chainPem).toEqual([]);
      const node = new NodeCert(r.certificatePem);
      expect(r.authorityFingerprintSHA256).toBe(node.fingerprint256);
      expect(node.issuer).toBe(node.subject); // (checkIssued also demands keyCertSign, which a self-signed leaf lacks)
      expect(node.verify(node.publicKey)).toBe(true);
      expect(new Date(node.validTo).getTime() - Date.now()).toBeLessThanOrEqual(2 * HOUR);
      expect(opensslVerify(r.caPem, r.certificatePem)).toMatch(/OK/);
    },
  );

  it("is denied without the identity's private key, or with a key that does not match the CSR", async () => {
    const key = await newKey('ECDSA');
    const issuer = new SelfSignedIssuer();
    const pem = await makeCsr(key);
    expect(await issuer.sign(request(pem))).toMatchObject({ status: 'denied', reason: 'PrivateKeyRequired' });
    expect(await issuer.sign(request(pem, { privateKey: await newKey('ECDSA') }))).toMatchObject({
      status: 'denied',
      reason: 'PrivateKeyMismatch',
    });
  });
});

// ---- the previous signing path (@peculiar/x509 + WebCrypto), as the reference the new encoder must match ----

const KU = x509.KeyUsageFlags;
const REF_KU: Readonly<Record<string, number>> = {
  digitalSignature: KU.digitalSignature,
  contentCommitment: KU.nonRepudiation,
  keyEncipherment: KU.keyEncipherment,
  dataEncipherment: KU.dataEncipherment,
  keyAgreement: KU.keyAgreement,
  certSign: KU.keyCertSign,
  crlSign: KU.cRLSign,
  encipherOnly: KU.encipherOnly,
  decipherOnly: KU.decipherOnly,
};
const REF_EKU: Readonly<Record<string, string>> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  any: '2.5.29.37.0',
};

/** What the @peculiar/x509 path issued for this CSR: same extension rules, same validity, same issuer. */
async function referenceCertificate(
  csrPem: string,
  signer: { key: KeyObject; ca?: CaMaterial },
  t: CertificateTemplate,
): Promise<string> {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  const bcExt = csr.getExtension('2.5.29.19');
  const bc = bcExt ? new x509.BasicConstraintsExtension(bcExt.rawData) : undefined;
  const isCA = bc ? bc.ca : t.isCA;
  const san = csr.getExtension('2.5.29.17');
  const subjectEmpty = csr.subjectName.toArrayBuffer().byteLength <= 2;
  const exts: x509.Extension[] = [
    bc
      ? new x509.BasicConstraintsExtension(bc.ca, bc.pathLength, true)
      : new x509.BasicConstraintsExtension(isCA, undefined, true),
  ];
  const ku = csr.getExtension('2.5.29.15');
  let flags = 0;
  for (const u of t.usages) flags |= REF_KU[u] ?? 0;
  if (flags === 0)
    flags = KU.digitalSignature | (csr.publicKey.algorithm.name.startsWith('RSA') ? KU.keyEncipherment : 0);
  if (isCA) flags |= KU.keyCertSign | KU.cRLSign;
  exts.push(ku ? new x509.Extension('2.5.29.15', true, ku.value) : new x509.KeyUsagesExtension(flags, true));
  const eku = csr.getExtension('2.5.29.37');
  const ekuOids = t.usages.map((u) => REF_EKU[u]).filter((o): o is string => o !== undefined);
  if (eku) exts.push(new x509.Extension('2.5.29.37', eku.critical, eku.value));
  else if (ekuOids.length > 0) exts.push(new x509.ExtendedKeyUsageExtension(ekuOids));
  if (san) exts.push(new x509.Extension('2.5.29.17', subjectEmpty || san.critical, san.value));
  exts.push(await x509.SubjectKeyIdentifierExtension.create(csr.publicKey));
  const caCert = signer.ca ? new x509.X509Certificate(signer.ca.certPem) : undefined;
  const ski = caCert?.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) exts.push(new x509.AuthorityKeyIdentifierExtension(ski.keyId));
  const s = toSigningKey(signer.key)!;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: csr.subjectName,
    issuer: caCert?.subjectName ?? csr.subjectName,
    notBefore: new Date(Math.floor((t.now.getTime() - BACKDATE_MS) / 1000) * 1000),
    notAfter: cappedNotAfter(t, signer.ca?.notAfter),
    publicKey: csr.publicKey,
    signingKey: s.key,
    signingAlgorithm: s.algorithm.signParams as webcryptoEcdsa,
    extensions: exts,
  });
  return cert.toString('pem');
}
type webcryptoEcdsa = Parameters<typeof x509.X509CertificateGenerator.create>[0]['signingAlgorithm'];

/** Every field of the two certificates except serial, signature and fingerprint. */
function comparable(pem: string): Record<string, unknown> {
  const { serialNumber: _s, fingerprintSHA256: _f, publicKey, ...facts } = parseCertificate(pem);
  const o = certificateOutline(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
  return {
    ...facts,
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
    subjectDer: o.subject.toString('hex'),
    issuerDer: o.issuer.toString('hex'),
    spkiDer: o.spki.toString('hex'),
    // name constraints and pathLenConstraint 0 are what a granted CA request adds (tested on their own below)
    extensions: [...o.extensions]
      .filter(([oid]) => oid !== '2.5.29.30' && oid !== '2.5.29.19')
      .map(([oid, e]) => [oid, e.critical, e.value.toString('hex')]),
  };
}

describe('the DER signing path issues what the @peculiar/x509 path issued', () => {
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  let ca: CaMaterial;
  let rsaCa: CaMaterial;
  const keys = new Map<string, KeyObject>();
  beforeAll(async () => {
    for (const [alg, key] of [
      ['ECDSA', { algorithm: 'ECDSA', size: 384 }],
      ['RSA', { algorithm: 'RSA' }],
    ] as const) {
      const g = await generateCa({
        commonName: `Ref ${alg} CA`,
        organizations: ['Example'],
        durationMs: 3650 * 24 * HOUR,
        key,
      });
      const m = loadCaMaterial(secretData({ 'tls.crt': g.certPem, 'tls.key': g.keyPem }));
      if (!m.ok) throw new Error(m.message);
      if (alg === 'ECDSA') ca = m;
      else rsaCa = m;
    }
    for (const alg of ['ECDSA', 'RSA', 'Ed25519'] as const) keys.set(alg, await newKey(alg));
  });

  const ipv4Mapped = new x509.Extension(
    '2.5.29.17',
    false,
    encodeSan({
      dnsNames: ['mapped.example'],
      ipAddresses: ['::ffff:192.0.2.1', 'fe80::1:2', '2001:db8:0:0:1:0:0:1'],
      uris: ['urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66'],
    })!,
  );
  const cases: [string, 'ECDSA' | 'RSA' | 'Ed25519', Parameters<typeof makeCsr>[1], Partial<CertificateTemplate>][] = [
    [
      'subject, DNS/IPv4/IPv6/URI/e-mail SANs, EKU from usages',
      'ECDSA',
      {
        subject: [
          { C: ['DE'] },
          { O: ['Example, Inc. +"quoted"'] },
          { OU: ['Payments', 'Core'] },
          { CN: ['payments-api'] },
        ],
        sans: [
          { type: 'dns', value: 'payments-api.payments.svc' },
          { type: 'dns', value: '*.example.com' },
          { type: 'ip', value: '10.0.0.10' },
          { type: 'ip', value: '2001:db8::1' },
          { type: 'url', value: 'spiffe://cluster.local/ns/payments/sa/api' },
          { type: 'email', value: 'ops@example.com' },
        ],
      },
      { usages: ['serverAuth', 'clientAuth'] },
    ],
    [
      'keyUsage and critical EKU from the CSR',
      'ECDSA',
      {
        sans: [{ type: 'dns', value: 'a.example.com' }],
        extraExtensions: [
          new x509.KeyUsagesExtension(KU.digitalSignature | KU.keyAgreement, true),
          new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.2', '1.2.3.4.5'], true),
        ],
      },
      { usages: ['serverAuth'] },
    ],
    [
      'IPv4-mapped and full IPv6 addresses, URNs (raw SAN)',
      'Ed25519',
      { subject: 'CN=mapped', extraExtensions: [ipv4Mapped] },
      {},
    ],
    [
      'empty subject: SAN-only, SAN made critical',
      'ECDSA',
      { subject: [], sans: [{ type: 'dns', value: 'only-san.example' }] },
      {},
    ],
    [
      'RSA key without usages: digitalSignature + keyEncipherment, no EKU',
      'RSA',
      { subject: 'CN=rsa' },
      { usages: [] },
    ],
    [
      'key usage names from usages',
      'RSA',
      { subject: 'CN=ku' },
      { usages: ['digitalSignature', 'contentCommitment', 'serverAuth', 'codeSigning'] },
    ],
    [
      'CA:TRUE with pathLen 0 from the CSR',
      'ECDSA',
      { subject: 'CN=Sub CA', extraExtensions: [new x509.BasicConstraintsExtension(true, 0, true)] },
      { isCA: true, usages: ['certSign', 'crlSign'] },
    ],
    [
      'isCA from the identity without basicConstraints in the CSR',
      'Ed25519',
      { subject: 'CN=Sub CA 2' },
      { isCA: true },
    ],
    [
      'CA:FALSE in the CSR for an isCA identity stays a leaf',
      'ECDSA',
      { subject: 'CN=leaf', isCA: false },
      { isCA: true },
    ],
  ];

  it.each(cases)('%s', async (_name, alg, csrOpts, over) => {
    const csrPem = await makeCsr(keys.get(alg)!, csrOpts);
    for (const m of [ca, rsaCa]) {
      const t: CertificateTemplate = {
        durationMs: 30 * 24 * HOUR,
        maxDurationMs: 90 * 24 * HOUR,
        isCA: false,
        usages: ['serverAuth'],
        now,
        ...over,
      };
      const r = await new InClusterCaIssuer(m, { maxDurationMs: t.maxDurationMs, now: () => now }).sign(
        request(csrPem, { durationMs: t.durationMs, isCA: t.isCA, usages: t.usages }),
      );
      if (r.status !== 'issued') throw new Error(JSON.stringify(r));
      const ref = await referenceCertificate(csrPem, { key: m.key, ca: m }, t);
      expect(comparable(r.certificatePem)).toEqual(comparable(ref));
      expect(opensslVerify(r.caPem, r.certificatePem)).toMatch(/: OK/);
    }
  });

  it.each(['ECDSA', 'RSA', 'Ed25519'] as const)('self-signed %s: issuer = subject, no AKI, as before', async (alg) => {
    const key = keys.get(alg)!;
    const csrPem = await makeCsr(key, {
      subject: 'CN=self',
      sans: [
        { type: 'dns', value: 'self.example' },
        { type: 'ip', value: '::1' },
      ],
    });
    const t: CertificateTemplate = {
      durationMs: 24 * HOUR,
      maxDurationMs: 2 * HOUR,
      isCA: false,
      usages: ['serverAuth'],
      now,
    };
    const r = await new SelfSignedIssuer({ maxDurationMs: 2 * HOUR, now: () => now }).sign(
      request(csrPem, { privateKey: key, durationMs: t.durationMs }),
    );
    if (r.status !== 'issued') throw new Error(JSON.stringify(r));
    expect(comparable(r.certificatePem)).toEqual(comparable(await referenceCertificate(csrPem, { key }, t)));
    expect(parseCertificate(r.certificatePem).authorityKeyId).toBeUndefined();
  });
});

describe('sign-from-csr: more denials and compatibility', () => {
  let leafKey: KeyObject;
  let ca: InClusterCaIssuer;
  beforeAll(async () => {
    leafKey = await newKey('ECDSA');
    const g = await generateCa({ commonName: 'Unit CA 2', durationMs: 30 * 24 * HOUR, key: { algorithm: 'ECDSA' } });
    const m = loadCaMaterial(secretData({ 'tls.crt': g.certPem, 'tls.key': g.keyPem }));
    if (!m.ok) throw new Error(m.message);
    ca = new InClusterCaIssuer(m);
  });

  it.each([
    ['basicConstraints', '2.5.29.19', [0x04, 0x00]],
    ['basicConstraints', '2.5.29.19', [0x30, 0x03, 0x02, 0x01, 0xff]], // negative pathLen
    ['keyUsage', '2.5.29.15', [0x03, 0x02, 0x09, 0x80]],
    ['subjectAltName', '2.5.29.17', [0x04, 0x00]],
    ['extendedKeyUsage', '2.5.29.37', [0x30, 0x05, 0x06]],
  ] as const)('denies a CSR with a malformed %s extension (%#)', async (what, oid, value) => {
    const pem = await makeCsr(leafKey, { extraExtensions: [new x509.Extension(oid, false, new Uint8Array(value))] });
    const r = await ca.sign(request(pem));
    expect(r).toMatchObject({ status: 'denied', reason: 'InvalidCSR' });
    expect((r as { message: string }).message).toContain(what);
  });

  it('denies truncated DER and a PEM with the wrong label', async () => {
    const pem = await makeCsr(leafKey);
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const cut = `-----BEGIN CERTIFICATE REQUEST-----\n${der.subarray(0, der.length - 10).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(await ca.sign(request(cut))).toMatchObject({ status: 'denied', reason: 'InvalidCSR' });
    expect(await ca.sign(request(pem.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE')))).toMatchObject({
      status: 'denied',
      reason: 'InvalidCSR',
    });
    expect(
      await ca.sign(
        request(
          `-----BEGIN CERTIFICATE REQUEST-----\n${randomBytes(90).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`,
        ),
      ),
    ).toMatchObject({ status: 'denied', reason: 'InvalidCSR' });
  });

  it.each([
    ['ECDSA', 256],
    ['ECDSA', 384],
    ['RSA', undefined],
    ['Ed25519', undefined],
  ] as const)(
    'signFromCsr still takes a WebCrypto %s %s key from toSigningKey, an x509 Name and a hex key id',
    async (alg, size) => {
      const parsed = await parseAndVerifyCsr(await makeCsr(leafKey, { subject: 'CN=compat' }));
      if (!parsed.ok) throw new Error(parsed.message);
      const caKey = await newKey(alg, size);
      const s = toSigningKey(caKey)!;
      for (let i = 0; i < 8; i++) {
        // ECDSA r/s of every length: P1363 to DER conversion
        const r = await signFromCsr(
          parsed.csr,
          {
            signingKey: s.key,
            algorithm: s.algorithm,
            issuerName: new x509.Name('CN=Compat CA'),
            authorityKeyId: 'a1b2c3',
          },
          { now: new Date(), durationMs: HOUR, isCA: false, usages: ['clientAuth'] },
        );
        if (!r.ok) throw new Error(r.message);
        const f = parseCertificate(r.cert.pem);
        expect([f.issuerDN, f.subjectDN, f.authorityKeyId, f.extKeyUsage]).toEqual([
          'CN=Compat CA',
          'CN=compat',
          'a1b2c3',
          ['clientAuth'],
        ]);
        expect(new NodeCert(r.cert.der).verify(createPublicKey(caKey))).toBe(true);
        expect(f.subjectKeyId).toBe(
          createHash('sha1')
            .update(parsed.csr.publicKey.export({ type: 'spki', format: 'der' }).subarray(-65))
            .digest('hex'),
        );
      }
    },
  );
});

describe('a granted CA certificate is constrained (verified by OpenSSL, an independent path validator)', () => {
  const verifies = (root: string, leaf: string, chain: string[]): boolean => {
    try {
      return /: OK/.test(opensslVerify(root, leaf, chain));
    } catch {
      return false;
    }
  };
  it('pathLenConstraint 0 and name constraints: its own names verify, kubernetes.default.svc, IPs, URIs and a sub-sub-CA do not', async () => {
    const g = await generateCa({
      commonName: 'Root',
      durationMs: 3650 * 24 * HOUR,
      key: { algorithm: 'ECDSA', size: 256 },
    });
    const root = loadCaMaterial(secretData({ 'tls.crt': g.certPem, 'tls.key': g.keyPem }));
    if (!root.ok) throw new Error(root.message);
    const subKey = await newKey('ECDSA');
    // the CSR asks for an unlimited path length: the issued certificate still says 0
    const sub = await new InClusterCaIssuer(root).sign(
      request(
        await makeCsr(subKey, {
          subject: 'CN=team-a CA',
          extraExtensions: [new x509.BasicConstraintsExtension(true, 5, true)],
        }),
        {
          isCA: true,
          usages: ['certSign', 'crlSign'],
          caConstraints: {
            permittedDNS: ['team-a.svc', 'team-a.svc.cluster.local'],
            excludedDNS: [],
            permittedIP: [],
            excludedIP: ['0.0.0.0/0', '::/0'],
            permittedEmail: ['invalid'],
            permittedURI: ['invalid'],
          },
        },
      ),
    );
    if (sub.status !== 'issued') throw new Error(JSON.stringify(sub));
    const bc = new x509.X509Certificate(sub.certificatePem).getExtension(x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.pathLength]).toEqual([true, 0]);
    const subCa = loadCaMaterial(
      secretData({
        'tls.crt': sub.certificatePem,
        'tls.key': subKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        'ca.crt': g.certPem,
      }),
    );
    if (!subCa.ok) throw new Error(subCa.message);
    // the holder of the sub-CA key signs whatever it likes, as an attacker would: only OpenSSL's verdict matters
    const mint = async (sans: x509.JsonGeneralName[], isCA = false): Promise<string> => {
      const key = await newKey('ECDSA');
      const r = await new InClusterCaIssuer(subCa).sign(
        request(await makeCsr(key, { subject: 'CN=x', sans }), isCA ? { isCA: true, usages: ['certSign'] } : {}),
      );
      if (r.status !== 'issued') throw new Error(JSON.stringify(r));
      return r.certificatePem;
    };
    expect(
      verifies(
        g.certPem,
        await mint([
          { type: 'dns', value: 'web.team-a.svc' },
          { type: 'dns', value: 'web.team-a.svc.cluster.local' },
        ]),
        [sub.certificatePem],
      ),
    ).toBe(true);
    expect(
      verifies(g.certPem, await mint([{ type: 'dns', value: 'kubernetes.default.svc' }]), [sub.certificatePem]),
    ).toBe(false);
    expect(verifies(g.certPem, await mint([{ type: 'dns', value: 'web.payments.svc' }]), [sub.certificatePem])).toBe(
      false,
    );
    expect(verifies(g.certPem, await mint([{ type: 'ip', value: '10.0.0.1' }]), [sub.certificatePem])).toBe(false);
    expect(
      verifies(g.certPem, await mint([{ type: 'url', value: 'spiffe://cluster.local/ns/payments/sa/api' }]), [
        sub.certificatePem,
      ]),
    ).toBe(false);
    // pathLenConstraint 0: a CA below it cannot issue anything that verifies
    const subSubKey = await newKey('ECDSA');
    const subSub = await new InClusterCaIssuer(subCa).sign(
      request(await makeCsr(subSubKey, { subject: 'CN=sub-sub', isCA: true }), { isCA: true, usages: ['certSign'] }),
    );
    if (subSub.status !== 'issued') throw new Error(JSON.stringify(subSub));
    const subSubCa = loadCaMaterial(
      secretData({
        'tls.crt': subSub.certificatePem,
        'tls.key': subSubKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        'ca.crt': g.certPem,
      }),
    );
    if (!subSubCa.ok) throw new Error(subSubCa.message);
    const deep = await new InClusterCaIssuer(subSubCa).sign(
      request(
        await makeCsr(await newKey('ECDSA'), { subject: 'CN=deep', sans: [{ type: 'dns', value: 'web.team-a.svc' }] }),
      ),
    );
    if (deep.status !== 'issued') throw new Error(JSON.stringify(deep));
    expect(verifies(g.certPem, deep.certificatePem, [subSub.certificatePem, sub.certificatePem])).toBe(false);
  });
  it('a CA request without constraints is refused', async () => {
    const g = await generateCa({
      commonName: 'Root',
      durationMs: 3650 * 24 * HOUR,
      key: { algorithm: 'ECDSA', size: 256 },
    });
    const root = loadCaMaterial(secretData({ 'tls.crt': g.certPem, 'tls.key': g.keyPem }));
    if (!root.ok) throw new Error(root.message);
    const r = await new InClusterCaIssuer(root).sign({
      ...request(await makeCsr(await newKey('ECDSA'), { subject: 'CN=ca', isCA: true }), { isCA: true }),
      caConstraints: undefined,
    });
    expect(r).toMatchObject({ status: 'denied', reason: 'CANotGranted' });
  });
});
