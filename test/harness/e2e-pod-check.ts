// What runs inside the end-to-end test's pod (with `node -e`, in the tls-echo image): it reads the credential
// bundle the kubelet wrote from its podCertificate projection (the private key the kubelet generated, then the
// chain the signer returned) and the projected ClusterTrustBundle, and prints one `VERDICT {json}` line: the
// leaf's URI SANs, whether the key matches the certificate, whether each certificate is signed by the next and the
// last by a trust-bundle certificate, and whether OpenSSL's own path validation accepts the chain (a TLS
// handshake on the pod's loopback that trusts only the projected bundle). Exit code 0 only when all hold.
import { connect, createServer } from 'node:tls';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Where the test pod mounts its projected volume. */
export const IDENTITY_DIR = '/var/run/mio-identity';
export const CREDENTIAL_BUNDLE = 'credentialbundle.pem';
export const TRUST_BUNDLE = 'trust-bundle.pem';

export interface Verdict {
  uris: string[];
  keyMatches: boolean;
  chainLength: number;
  chainSigned: boolean;
  anchoredInTrustBundle: boolean;
  tlsAuthorized: boolean;
  tlsError?: string;
}

// Kept free of imports beyond node built-ins and of TypeScript-only syntax inside the function body: it is
// shipped to the pod as source text (Function.prototype.toString), so the check that runs is this code.
function podCheck(dir: string, bundleFile: string, trustFile: string): void {
  const blocks = (s: string): string[] => s.match(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g) ?? [];
  const bundle = blocks(readFileSync(`${dir}/${bundleFile}`, 'utf8'));
  const keyPem = bundle.find((b) => b.startsWith('-----BEGIN PRIVATE KEY') || b.includes(' PRIVATE KEY-----')) ?? '';
  const chainPem = bundle.filter((b) => b.startsWith('-----BEGIN CERTIFICATE-----'));
  const trustPem = blocks(readFileSync(`${dir}/${trustFile}`, 'utf8'));
  const chain = chainPem.map((p) => new X509Certificate(p));
  const roots = trustPem.map((p) => new X509Certificate(p));
  const leaf = chain[0];
  const last = chain[chain.length - 1];
  const v: Verdict = {
    uris: (leaf?.subjectAltName ?? '')
      .split(', ')
      .filter((s) => s.startsWith('URI:'))
      .map((s) => s.slice(4)),
    keyMatches: !!leaf && leaf.checkPrivateKey(createPrivateKey(keyPem)),
    chainLength: chain.length,
    chainSigned: chain.every(
      (c, i) => i === chain.length - 1 || (c.checkIssued(chain[i + 1]!) && c.verify(chain[i + 1]!.publicKey)),
    ),
    anchoredInTrustBundle:
      !!last &&
      roots.some((r) => r.fingerprint256 === last.fingerprint256 || (last.checkIssued(r) && last.verify(r.publicKey))),
    tlsAuthorized: false,
  };
  const done = (): void => {
    process.stdout.write(`VERDICT ${JSON.stringify(v)}\n`);
    const pass = v.keyMatches && v.chainSigned && v.anchoredInTrustBundle && v.tlsAuthorized && v.uris.length === 1;
    process.exit(pass ? 0 : 1);
  };
  const server = createServer({ key: keyPem, cert: chainPem.join('\n') }, (s) => s.end('ok'));
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    // the SPIFFE ID is checked above; here only the path to the projected bundle
    const c = connect(
      { host: '127.0.0.1', port, ca: trustPem.join('\n'), checkServerIdentity: () => undefined },
      () => {
        v.tlsAuthorized = c.authorized;
        done();
      },
    );
    c.on('error', (e) => {
      v.tlsError = String(e);
      done();
    });
  });
}

/** The `node -e` program for the pod (CommonJS: require, not import). */
export function podCheckProgram(): string {
  const body = podCheck.toString();
  return [
    "const { connect, createServer } = require('node:tls');",
    "const { X509Certificate, createPrivateKey } = require('node:crypto');",
    "const { readFileSync } = require('node:fs');",
    `(${body})(${JSON.stringify(IDENTITY_DIR)}, ${JSON.stringify(CREDENTIAL_BUNDLE)}, ${JSON.stringify(TRUST_BUNDLE)});`,
  ].join('\n');
}

/** The verdict line of the pod's log. */
export function parseVerdict(log: string): Verdict | undefined {
  const line = log.split('\n').find((l) => l.startsWith('VERDICT '));
  return line ? (JSON.parse(line.slice('VERDICT '.length)) as Verdict) : undefined;
}
