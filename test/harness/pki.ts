// Fresh PKI for a local control plane, made with node:crypto + @peculiar/x509 (no openssl shell-outs).
import 'reflect-metadata';
import type { KeyObject } from 'node:crypto';
import { webcrypto, generateKeyPair as genKeyPairCb } from 'node:crypto';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const generateKeyPair = promisify(genKeyPairCb);
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface Pem {
  cert: string;
  key: string;
}
export interface Pki {
  ca: Pem;
  apiserver: Pem;
  admin: Pem;
  serviceAccount: { privateKey: string; publicKey: string };
  /** Issues a client certificate (CN=user, O=groups) signed by the cluster CA. */
  client(user: string, groups: string[]): Promise<Pem>;
  /** Issues a serving certificate for 127.0.0.1/localhost signed by the cluster CA. */
  serving(dnsNames?: string[]): Promise<Pem>;
}

async function ecKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
}
async function keyPem(k: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', k), 'PRIVATE KEY');
}
function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
}

export async function makePki(): Promise<Pki> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 7 * 24 * 3600_000);
  const caKeys = await ecKeys();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=mio-local-cluster-ca',
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const issue = async (subject: string, eku: string[], sans?: x509.JsonGeneralName[]): Promise<Pem> => {
    const keys = await ecKeys();
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(eku),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ];
    if (sans) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: caCert.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: EC,
      extensions,
    });
    return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
  };
  const escape = (s: string): string => s.replace(/([,+"\\<>;=])/g, '\\$1');
  const client = (user: string, groups: string[]): Promise<Pem> =>
    issue([...groups.map((g) => `O=${escape(g)}`), `CN=${escape(user)}`].join(', '), [
      x509.ExtendedKeyUsage.clientAuth,
    ]);
  const serving = (dnsNames: string[] = [], ips: string[] = []): Promise<Pem> =>
    issue(
      'CN=localhost',
      [x509.ExtendedKeyUsage.serverAuth],
      [
        { type: 'ip', value: '127.0.0.1' },
        ...ips.map((value) => ({ type: 'ip' as const, value })),
        { type: 'dns', value: 'localhost' },
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
      ],
    );
  const sa = await generateKeyPair('rsa', { modulusLength: 2048 });
  return {
    ca: { cert: caCert.toString('pem'), key: await keyPem(caKeys.privateKey) },
    // in-cluster clients on a real node dial the `kubernetes` Service (10.0.0.1, the first address of the
    // plane's --service-cluster-ip-range) or the address the API server advertises to them (the real
    // node's bridge, test/harness/real-node.ts): a real cluster's serving certificate names both
    apiserver: await serving(
      ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      ['10.0.0.1', '10.244.77.1'],
    ),
    admin: await client('admin', ['system:masters']),
    serviceAccount: {
      privateKey: (sa.privateKey as KeyObject).export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKey: (sa.publicKey as KeyObject).export({ type: 'spki', format: 'pem' }).toString(),
    },
    client,
    serving,
  };
}

/** A client certificate signed by an existing cluster CA (the shared test cluster's, read from its pki dir). */
export async function clientFromCa(ca: Pem, user: string, groups: string[]): Promise<Pem> {
  const caCert = new x509.X509Certificate(ca.cert);
  const der = x509.PemConverter.decodeFirst(ca.key);
  const caKey = await webcrypto.subtle.importKey('pkcs8', der, EC, false, ['sign']);
  const keys = await ecKeys();
  const escape = (s: string): string => s.replace(/([,+"\\<>;=])/g, '\\$1');
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: [...groups.map((g) => `O=${escape(g)}`), `CN=${escape(user)}`].join(', '),
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 24 * 3600_000),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}
