// Certificates for TLS test servers (the prober's tests and the TLS farm): ECDSA P-256 roots,
// intermediates and leaves made with @peculiar/x509, chains of any length.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface Issued {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  /** PEM of the certificate alone. */
  pem: string;
  /** PKCS#8 PEM of the private key. */
  keyPem: string;
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(12)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
}

export interface IssueOptions {
  subject: string;
  /** Signs it; self-signed when absent. */
  issuer?: Issued;
  ca?: boolean;
  dnsNames?: string[];
  ips?: string[];
  notAfter?: Date;
}

export async function issue(o: IssueOptions): Promise<Issued> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const sans: x509.JsonGeneralName[] = [
    ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(o.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(o.ca ?? false, undefined, true),
    new x509.KeyUsagesExtension(
      o.ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (o.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(o.issuer.cert));
  if (sans.length) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: o.subject,
    issuer: o.issuer ? o.issuer.cert.subject : o.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: o.notAfter ?? new Date(Date.now() + 24 * 3600_000),
    publicKey: keys.publicKey,
    signingKey: o.issuer ? o.issuer.keys.privateKey : keys.privateKey,
    signingAlgorithm: EC,
    extensions,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert, keys, pem: `${cert.toString('pem')}\n`, keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/** A root, an intermediate, and a leaf for `dnsNames` signed by the intermediate. */
export async function chain3(dnsNames: string[], name = 'test'): Promise<{ root: Issued; mid: Issued; leaf: Issued }> {
  const root = await issue({ subject: `CN=${name} root`, ca: true });
  const mid = await issue({ subject: `CN=${name} intermediate`, ca: true, issuer: root });
  const leaf = await issue({ subject: `CN=${dnsNames[0] ?? name}`, issuer: mid, dnsNames });
  return { root, mid, leaf };
}

/**
 * `n` certificates, leaf first, each signed by the next (n - 1 CAs above the leaf): what a hostile
 * server presents as a very long chain. Returns the chain PEM (leaf first) and the leaf's key.
 */
export async function longChain(n: number): Promise<{ pem: string; keyPem: string; leaf: Issued }> {
  let above = await issue({ subject: `CN=long chain ${n - 1}`, ca: true });
  const pems = [above.pem];
  for (let i = n - 2; i >= 1; i--) {
    above = await issue({ subject: `CN=long chain ${i}`, ca: true, issuer: above });
    pems.push(above.pem);
  }
  const leaf = await issue({ subject: 'CN=long.test', issuer: above, dnsNames: ['long.test'] });
  pems.push(leaf.pem);
  return { pem: pems.reverse().join(''), keyPem: leaf.keyPem, leaf };
}
