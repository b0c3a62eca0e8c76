// CA key material in a Secret (tls.crt, tls.key, optional ca.crt): generating it, and loading it with
// checks whose messages tell the user what to fix. Key bytes never appear in a message.
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, generateKeyPair as generateKeyPairCb, X509Certificate as NodeCert, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { BACKDATE_MS, normaliseFingerprint, randomSerial, toSigningKey } from './sign-from-csr.ts';

const generateKeyPair = promisify(generateKeyPairCb);

export interface GenerateCaOptions {
  commonName: string;
  organizations?: readonly string[];
  durationMs: number;
  key: { algorithm: 'ECDSA' | 'RSA' | 'Ed25519'; size?: number };
  now?: Date;
}

const EC_CURVES: Readonly<Record<number, string>> = { 256: 'P-256', 384: 'P-384', 521: 'P-521' };

async function newKey(k: GenerateCaOptions['key']): Promise<KeyObject> {
  switch (k.algorithm) {
    case 'ECDSA': {
      const namedCurve = EC_CURVES[k.size ?? 256];
      if (!namedCurve) throw new Error(`unsupported ECDSA size ${k.size}; use 256, 384 or 521`);
      return (await generateKeyPair('ec', { namedCurve })).privateKey;
    }
    case 'RSA': return (await generateKeyPair('rsa', { modulusLength: k.size ?? 2048 })).privateKey;
    case 'Ed25519': return (await generateKeyPair('ed25519')).privateKey;
  }
}

/** A new self-signed CA: key generated off the event loop (libuv pool), certificate signed with it. */
export async function generateCa(o: GenerateCaOptions): Promise<{ certPem: string; keyPem: string }> {
  const key = await newKey(o.key);
  const signer = toSigningKey(key);
  if (!signer) throw new Error(`cannot sign with a ${o.key.algorithm} key`);
  const now = (o.now ?? new Date()).getTime();
  const name = new x509.Name([...(o.organizations ?? []).map((org) => ({ O: [org] })), { CN: [o.commonName] }]);
  const publicKey = new x509.PublicKey(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(), subject: name, issuer: name,
    notBefore: new Date(Math.floor((now - BACKDATE_MS) / 1000) * 1000),
    notAfter: new Date(Math.floor((now + o.durationMs) / 1000) * 1000),
    publicKey, signingKey: signer.key, signingAlgorithm: signer.algorithm.signParams as x509.X509CertificateCreateParams['signingAlgorithm'],
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

// ---- loading -------------------------------------------------------------------------------

export interface CaMaterial {
  /** The signing CA certificate (first certificate of tls.crt). */
  cert: x509.X509Certificate;
  certPem: string;
  key: KeyObject;
  /** Every further certificate from tls.crt and ca.crt (PEM each), in the order given. */
  chainPem: string[];
  /** Intermediates to send after a leaf, leaf-first: the CA itself unless self-signed, then its issuers up to (not including) the root. */
  intermediatesPem: string[];
  /** What relying parties should trust (ca.crt): ca.crt as given, else the root(s) found, else the CA itself. */
  trustBundlePem: string[];
  fingerprintSHA256: string;
  notBefore: Date;
  notAfter: Date;
  selfSigned: boolean;
}

export type LoadResult = ({ ok: true } & CaMaterial)
  | { ok: false; reason: 'InvalidCA' | 'CAExpired' | 'CANotYetValid'; message: string; fingerprintSHA256?: string; notBefore?: Date; notAfter?: Date };

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function decode(data: Record<string, string>, k: string): string | undefined {
  const v = data[k];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

function parseCerts(pem: string, what: string): { certs: NodeCert[]; pems: string[] } | string {
  const pems = pem.match(PEM_CERT) ?? [];
  if (pems.length === 0) return `${what} contains no PEM certificate (expected -----BEGIN CERTIFICATE-----)`;
  const certs: NodeCert[] = [];
  for (const [i, p] of pems.entries()) {
    try { certs.push(new NodeCert(p)); } catch {
      return `${what}: certificate #${i + 1} cannot be parsed as X.509`;
    }
  }
  return { certs, pems: pems.map((p) => `${p}\n`) };
}

function parseKey(pem: string): KeyObject | string {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) return 'tls.key is encrypted; store the CA key unencrypted (the Secret is the protection)';
  try { return createPrivateKey({ key: pem, format: 'pem' }); } catch {
    return 'tls.key cannot be parsed: expected a PEM private key (PKCS#8 "PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY" or SEC1 "EC PRIVATE KEY")';
  }
}

/** Checks that a certificate may sign certificates: basicConstraints CA:TRUE and (if present) keyUsage keyCertSign. */
function caProblem(cert: x509.X509Certificate): string | undefined {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) return `tls.crt (${cert.subject}) is not a CA certificate: it lacks basicConstraints CA:TRUE`;
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) return `tls.crt (${cert.subject}) may not sign certificates: its keyUsage lacks keyCertSign`;
  return undefined;
}

/** Loads and validates CA material from a Secret's `data` (base64 values). */
export function loadCaMaterial(data: Record<string, string>, now: Date = new Date()): LoadResult {
  const invalid = (message: string): LoadResult => ({ ok: false, reason: 'InvalidCA', message });
  const crtPem = decode(data, 'tls.crt');
  const keyPem = decode(data, 'tls.key');
  if (crtPem === undefined || keyPem === undefined) return invalid(`the CA Secret needs both tls.crt and tls.key; missing: ${[crtPem === undefined ? 'tls.crt' : '', keyPem === undefined ? 'tls.key' : ''].filter(Boolean).join(', ')}`);
  const crt = parseCerts(crtPem, 'tls.crt');
  if (typeof crt === 'string') return invalid(crt);
  const caCrtPem = decode(data, 'ca.crt');
  const extra = caCrtPem === undefined || caCrtPem.trim() === '' ? { certs: [], pems: [] } : parseCerts(caCrtPem, 'ca.crt');
  if (typeof extra === 'string') return invalid(extra);
  const key = parseKey(keyPem);
  if (typeof key === 'string') return invalid(key);
  const node = crt.certs[0]!;
  const pcert = new x509.X509Certificate(crt.pems[0]!);
  const problem = caProblem(pcert);
  if (problem) return invalid(problem);
  if (!node.checkPrivateKey(key)) return invalid(`tls.key does not belong to the certificate in tls.crt (${node.subject.replace(/\n/g, ', ')}): the public keys differ`);
  if (!toSigningKey(key)) return invalid(`the CA key type ${key.asymmetricKeyType ?? 'unknown'} is not supported for signing; use ECDSA (P-256/P-384/P-521), RSA or Ed25519`);
  const notBefore = new Date(node.validFrom);
  const notAfter = new Date(node.validTo);
  const fingerprintSHA256 = normaliseFingerprint(node.fingerprint256);
  const base = { fingerprintSHA256, notBefore, notAfter };
  if (now.getTime() > notAfter.getTime()) return { ok: false, reason: 'CAExpired', ...base, message: `the CA certificate ${fingerprintSHA256} expired at ${notAfter.toISOString()}; renew it or delete the Secret to have it generated again` };
  if (now.getTime() < notBefore.getTime()) return { ok: false, reason: 'CANotYetValid', ...base, message: `the CA certificate is not valid before ${notBefore.toISOString()}; check the clock of whoever created it` };
  const all = dedupe([...crt.certs.map((c, i) => ({ c, pem: crt.pems[i]! })), ...extra.certs.map((c, i) => ({ c, pem: extra.pems[i]! }))]);
  const selfSigned = isSelfSigned(node);
  const path = issuerPath(node, all.slice(1));
  const intermediatesPem = [...(selfSigned ? [] : [crt.pems[0]!]), ...path.filter((p) => !isSelfSigned(p.c)).map((p) => p.pem)];
  const roots = all.filter((p) => isSelfSigned(p.c)).map((p) => p.pem);
  const trustBundlePem = extra.pems.length > 0 ? extra.pems : roots.length > 0 ? roots : [crt.pems[0]!];
  return { ok: true, cert: pcert, certPem: crt.pems[0]!, key, chainPem: all.slice(1).map((p) => p.pem), intermediatesPem, trustBundlePem, selfSigned, ...base };
}

interface Entry { c: NodeCert; pem: string }

function dedupe(list: Entry[]): Entry[] {
  const seen = new Set<string>();
  return list.filter((e) => { const k = e.c.fingerprint256; if (seen.has(k)) return false; seen.add(k); return true; });
}

function isSelfSigned(c: NodeCert): boolean {
  return c.subject === c.issuer && c.checkIssued(c);
}

/** Walks issuer links from `start` through `pool`: the issuers of start, nearest first (the root last, if present). */
function issuerPath(start: NodeCert, pool: Entry[]): Entry[] {
  const out: Entry[] = [];
  let cur = start;
  while (!isSelfSigned(cur) && out.length < pool.length) {
    const next = pool.find((e) => !out.includes(e) && cur.checkIssued(e.c) && cur.verify(e.c.publicKey));
    if (!next) break;
    out.push(next);
    cur = next.c;
  }
  return out;
}
