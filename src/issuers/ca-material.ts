// CA key material in a Secret (tls.crt, tls.key, optional ca.crt): generating it, and loading it with
// checks whose messages tell the user what to fix. Key bytes never appear in a message.
import { createPrivateKey, createPublicKey, X509Certificate as NodeCert, type KeyObject } from 'node:crypto';
import { BindingReason } from '../crds/reasons.ts';
import { normaliseFingerprint } from '../pki/fingerprint.ts';
import { generateKey } from '../pki/keys.ts';
import { hasEncryptedKey, pemBlocks, toPem } from '../pki/pem.ts';
import { randomSerial } from '../pki/serial.ts';
import { toSigningKey } from '../pki/webcrypto-signing.ts';
import { signatureAlgorithmFor } from '../pki/algorithms.ts';
import { x509 } from '../pki/x509.ts';
import { backdatedNotBefore, wholeSeconds } from './lifetime.ts';

export interface GenerateCaOptions {
  commonName: string;
  organizations?: readonly string[];
  durationMs: number;
  key: { algorithm: 'ECDSA' | 'RSA' | 'Ed25519'; size?: number };
  now?: Date;
}

/** A new self-signed CA: key generated off the event loop (libuv pool), certificate signed with it. */
export async function generateCa(o: GenerateCaOptions): Promise<{ certPem: string; keyPem: string }> {
  const key = await generateKey(o.key);
  const signer = toSigningKey(key);
  if (!signer) throw new Error(`cannot sign with a ${o.key.algorithm} key`);
  const now = o.now ?? new Date();
  const name = new x509.Name([...(o.organizations ?? []).map((org) => ({ O: [org] })), { CN: [o.commonName] }]);
  const publicKey = new x509.PublicKey(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: name,
    issuer: name,
    notBefore: backdatedNotBefore(now),
    notAfter: wholeSeconds(now.getTime() + o.durationMs),
    publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm.signParams,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
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

interface Entry {
  c: NodeCert;
  pem: string;
}

type LoadFailure = {
  ok: false;
  reason: typeof BindingReason.InvalidCA | typeof BindingReason.CAExpired | typeof BindingReason.CANotYetValid;
  message: string;
  fingerprintSHA256?: string;
  notBefore?: Date;
  notAfter?: Date;
};
export type LoadResult = ({ ok: true } & CaMaterial) | LoadFailure;

function decode(data: Record<string, string>, k: string): string | undefined {
  const v = data[k];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/** Every certificate of a PEM bundle, parsed; a message naming the first problem otherwise. */
function parseCerts(pem: string, what: string): Entry[] | string {
  let ders: Buffer[];
  try {
    // no block limit: an admin's ca.crt may be a whole root store (the Secret's 1 MiB bounds it)
    ders = pemBlocks(pem, ['CERTIFICATE'], Number.POSITIVE_INFINITY);
  } catch (e) {
    return `${what}: ${e instanceof Error ? e.message : 'unreadable PEM'}`;
  }
  if (ders.length === 0) return `${what} contains no PEM certificate (expected -----BEGIN CERTIFICATE-----)`;
  const out: Entry[] = [];
  for (const [i, der] of ders.entries()) {
    try {
      out.push({ c: new NodeCert(der), pem: toPem(der, 'CERTIFICATE') });
    } catch {
      return `${what}: certificate #${i + 1} cannot be parsed as X.509`;
    }
  }
  return out;
}

function parseKey(pem: string): KeyObject | string {
  if (hasEncryptedKey(pem)) return 'tls.key is encrypted; store the CA key unencrypted (the Secret is the protection)';
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    return 'tls.key cannot be parsed: expected a PEM private key (PKCS#8 "PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY" or SEC1 "EC PRIVATE KEY")';
  }
}

/** Checks that a certificate may sign certificates: basicConstraints CA:TRUE and (if present) keyUsage keyCertSign. */
function caProblem(cert: x509.X509Certificate): string | undefined {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) return `tls.crt (${cert.subject}) is not a CA certificate: it lacks basicConstraints CA:TRUE`;
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0)
    return `tls.crt (${cert.subject}) may not sign certificates: its keyUsage lacks keyCertSign`;
  return undefined;
}

type Parsed = { ca: Entry; crt: Entry[]; extra: Entry[]; key: KeyObject };

/** tls.crt, tls.key and ca.crt, parsed; a message naming the first problem otherwise. */
function readCaSecret(data: Record<string, string>): Parsed | string {
  const crtPem = decode(data, 'tls.crt');
  const keyPem = decode(data, 'tls.key');
  if (crtPem === undefined || keyPem === undefined) {
    const missing = [crtPem === undefined ? 'tls.crt' : '', keyPem === undefined ? 'tls.key' : ''].filter(Boolean);
    return `the CA Secret needs both tls.crt and tls.key; missing: ${missing.join(', ')}`;
  }
  const crt = parseCerts(crtPem, 'tls.crt');
  if (typeof crt === 'string') return crt;
  const caCrtPem = decode(data, 'ca.crt');
  const extra = caCrtPem === undefined || caCrtPem.trim() === '' ? [] : parseCerts(caCrtPem, 'ca.crt');
  if (typeof extra === 'string') return extra;
  const key = parseKey(keyPem);
  if (typeof key === 'string') return key;
  const [ca] = crt;
  return ca ? { ca, crt, extra, key } : 'tls.crt contains no PEM certificate';
}

/** Why this certificate and key cannot sign: not a CA, a key that is not the certificate's, or a key type we do not sign with. */
function signingProblem(p: Parsed, cert: x509.X509Certificate): string | undefined {
  const problem = caProblem(cert);
  if (problem) return problem;
  const node = p.ca.c;
  if (!node.checkPrivateKey(p.key)) {
    return `tls.key does not belong to the certificate in tls.crt (${node.subject.replace(/\n/g, ', ')}): the public keys differ`;
  }
  if (!signatureAlgorithmFor(p.key)) {
    return `the CA key type ${p.key.asymmetricKeyType ?? 'unknown'} is not supported for signing; use ECDSA (P-256/P-384/P-521), RSA or Ed25519`;
  }
  return undefined;
}

type Validity = { fingerprintSHA256: string; notBefore: Date; notAfter: Date };

/** CAExpired or CANotYetValid at `now`; undefined while the CA certificate is valid. */
function validityProblem(v: Validity, now: Date): LoadFailure | undefined {
  if (now.getTime() > v.notAfter.getTime()) {
    return {
      ok: false,
      reason: BindingReason.CAExpired,
      ...v,
      message: `the CA certificate ${v.fingerprintSHA256} expired at ${v.notAfter.toISOString()}; renew it or delete the Secret to have it generated again`,
    };
  }
  if (now.getTime() < v.notBefore.getTime()) {
    return {
      ok: false,
      reason: BindingReason.CANotYetValid,
      ...v,
      message: `the CA certificate is not valid before ${v.notBefore.toISOString()}; check the clock of whoever created it`,
    };
  }
  return undefined;
}

type Chains = Pick<CaMaterial, 'chainPem' | 'intermediatesPem' | 'trustBundlePem' | 'selfSigned'>;

/** What is sent after a leaf and what relying parties trust, from tls.crt's further certificates and ca.crt. */
function chainsOf(p: Parsed): Chains {
  const all = dedupe([...p.crt, ...p.extra]);
  const selfSigned = isSelfSigned(p.ca.c);
  const path = issuerPath(p.ca.c, all.slice(1));
  const intermediatesPem = [
    ...(selfSigned ? [] : [p.ca.pem]),
    ...path.filter((e) => !isSelfSigned(e.c)).map((e) => e.pem),
  ];
  const roots = all.filter((e) => isSelfSigned(e.c)).map((e) => e.pem);
  const extraPems = p.extra.map((e) => e.pem);
  const trustBundlePem = extraPems.length > 0 ? extraPems : roots.length > 0 ? roots : [p.ca.pem];
  return { chainPem: all.slice(1).map((e) => e.pem), intermediatesPem, trustBundlePem, selfSigned };
}

/** Loads and validates CA material from a Secret's `data` (base64 values). */
export function loadCaMaterial(data: Record<string, string>, now: Date = new Date()): LoadResult {
  const invalid = (message: string): LoadFailure => ({ ok: false, reason: BindingReason.InvalidCA, message });
  const p = readCaSecret(data);
  if (typeof p === 'string') return invalid(p);
  const cert = new x509.X509Certificate(p.ca.pem);
  const problem = signingProblem(p, cert);
  if (problem) return invalid(problem);
  const node = p.ca.c;
  const validity = {
    fingerprintSHA256: normaliseFingerprint(node.fingerprint256),
    notBefore: new Date(node.validFrom),
    notAfter: new Date(node.validTo),
  };
  const expired = validityProblem(validity, now);
  if (expired) return expired;
  return { ok: true, cert, certPem: p.ca.pem, key: p.key, ...chainsOf(p), ...validity };
}

function dedupe(list: Entry[]): Entry[] {
  const seen = new Set<string>();
  return list.filter((e) => {
    const k = e.c.fingerprint256;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
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
