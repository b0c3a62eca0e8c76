// Shared helpers for the issuer unit tests: keys, CSRs, CA Secrets and `openssl verify`.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { generateKeyPair as genCb, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { signingAlgorithmFor } from '../../src/pki/webcrypto-signing.ts';
import type { SignRequest } from '../../src/issuers/types.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const generateKeyPair = promisify(genCb);

export type Alg = 'ECDSA' | 'RSA' | 'Ed25519';

export async function newKey(alg: Alg, size?: number): Promise<KeyObject> {
  if (alg === 'ECDSA')
    return (await generateKeyPair('ec', { namedCurve: size === 384 ? 'P-384' : 'P-256' })).privateKey;
  if (alg === 'RSA') return (await generateKeyPair('rsa', { modulusLength: size ?? 2048 })).privateKey;
  return (await generateKeyPair('ed25519')).privateKey;
}

export interface CsrOptions {
  subject?: string | x509.JsonName;
  sans?: x509.JsonGeneralName[];
  isCA?: boolean;
  extraExtensions?: x509.Extension[];
}

export async function makeCsr(key: KeyObject, o: CsrOptions = {}): Promise<string> {
  const alg = signingAlgorithmFor(key)!;
  const privateKey = key.toCryptoKey(alg.importParams, false, ['sign']);
  const publicKey = createPublicKey(key).toCryptoKey(alg.importParams, true, ['verify']);
  const extensions: x509.Extension[] = [...(o.extraExtensions ?? [])];
  if (o.sans) extensions.push(new x509.SubjectAlternativeNameExtension(o.sans));
  if (o.isCA !== undefined) extensions.push(new x509.BasicConstraintsExtension(o.isCA, undefined, true));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: o.subject ?? 'CN=leaf.example.com',
    keys: { privateKey, publicKey },
    signingAlgorithm: alg.signParams as webcrypto.EcdsaParams,
    extensions,
  });
  return csr.toString('pem');
}

/** The name constraints the controller passes with a granted CA request (see src/policy/ownership.ts). */
export const CA_CONSTRAINTS = {
  permittedDNS: ['ns.svc', 'ns.svc.cluster.local'],
  excludedDNS: [],
  permittedIP: [],
  excludedIP: ['0.0.0.0/0', '::/0'],
  permittedEmail: ['invalid'],
  permittedURI: ['invalid'],
};

export function request(csrPem: string, over: Partial<SignRequest> = {}): SignRequest {
  return {
    csrPem,
    requestId: 'uid-1',
    identity: { namespace: 'ns', name: 'id', uid: 'uid' },
    durationMs: 24 * 3600_000,
    isCA: false,
    usages: ['serverAuth'],
    ...(over.isCA ? { caConstraints: CA_CONSTRAINTS } : {}),
    ...over,
  };
}

export function secretData(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
}

/** Runs `openssl verify`; returns its output, throws with it on failure. */
export function opensslVerify(caPem: string, leafPem: string, untrusted: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'mio-verify-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), caPem);
    writeFileSync(join(dir, 'leaf.pem'), leafPem);
    const args = ['verify', '-CAfile', join(dir, 'ca.pem')];
    if (untrusted.length > 0) {
      writeFileSync(join(dir, 'chain.pem'), untrusted.join(''));
      args.push('-untrusted', join(dir, 'chain.pem'));
    }
    args.push(join(dir, 'leaf.pem'));
    return execFileSync('/usr/bin/openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The DER serialNumber INTEGER content octets of a certificate (read by hand, no re-encoding). */
export function serialOctets(pem: string): Buffer {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  let p = 0;
  const header = (): { tag: number; len: number } => {
    const tag = der[p++]!;
    let len = der[p++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = (len << 8) | der[p++]!;
    }
    return { tag, len };
  };
  header(); // Certificate SEQUENCE
  header(); // TBSCertificate SEQUENCE
  const v = header(); // [0] version
  if (v.tag !== 0xa0) throw new Error('no version');
  p += v.len;
  const s = header();
  if (s.tag !== 0x02) throw new Error('no serial INTEGER');
  return der.subarray(p, p + s.len);
}
