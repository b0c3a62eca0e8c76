// Facts of served certificates (what the probe worker extracts from the peer's DER).
import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { servedCertFromDer, servedChain } from '../../src/validation/served-cert.ts';
import { parseCertificateDer } from '../../src/pki/certs.ts';
import { chain3 } from '../harness/tls-certs.ts';

const der = (pem: string): Buffer => Buffer.from(new X509Certificate(pem).raw);
const colonHex = (b: Buffer): string => b.toString('hex').toUpperCase().match(/.{2}/g)?.join(':') ?? '';

describe('servedCertFromDer', () => {
  it('gives the CertFacts forms (serial, fingerprint) and the SPKI hash', async () => {
    const { leaf, mid } = await chain3(['web.test', 'www.web.test'], 'facts');
    const d = der(leaf.pem);
    const c = servedCertFromDer(d);
    const f = parseCertificateDer(d);
    const x = new X509Certificate(d);
    expect(c.serialNumber).toBe(f.serialNumber);
    expect(c.serialNumber).toMatch(/^[1-9a-f][0-9a-f]*$/);
    expect(c.fingerprintSHA256).toBe(x.fingerprint256);
    const spki = x.publicKey.export({ type: 'spki', format: 'der' });
    expect(c.publicKeySHA256).toBe(colonHex(createHash('sha256').update(spki).digest()));
    expect(c).toMatchObject({
      subjectDN: 'CN=web.test',
      issuerDN: 'CN=facts intermediate',
      dnsNames: ['web.test', 'www.web.test'],
      ipAddresses: [],
      isCA: false,
      selfSigned: false,
      notAfter: x.validToDate.getTime(),
      notBefore: x.validFromDate.getTime(),
    });
    expect(c.authorityKeyId).toBe(servedCertFromDer(der(mid.pem)).subjectKeyId);
  });

  it('a self-signed root is selfSigned and CA', async () => {
    const { root } = await chain3(['x.test'], 'root');
    expect(servedCertFromDer(der(root.pem))).toMatchObject({ isCA: true, selfSigned: true });
  });
});

describe('servedChain', () => {
  it('keeps the presented order and stops at the first unparsable certificate', async () => {
    const { root, mid, leaf } = await chain3(['a.test'], 'order');
    const r = servedChain([der(leaf.pem), der(mid.pem), Buffer.from('garbage'), der(root.pem)]);
    expect(r.leaf.subjectDN).toBe('CN=a.test');
    expect(r.chain.map((c) => c.subjectDN)).toEqual(['CN=order intermediate']);
  });
  it('throws when the leaf is unparsable or absent (nothing to judge)', () => {
    expect(() => servedChain([Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])])).toThrow();
    expect(() => servedChain([])).toThrow('no certificate presented');
  });
});
