// Finding certificates in API objects: Secrets (any key holding PEM or DER certificates, PKCS#12 when
// its password is known), ConfigMaps (CA bundles), and the caBundle of webhook configurations,
// APIServices and CRD conversion webhooks. Pure and total: hostile content becomes a counted
// problem, never an exception, and only the parsed facts are kept (never key material or raw data).
import { parseCertificateDer, type CertFacts } from '../issuers/crypto/certs.ts';
import { pemBlocks } from '../issuers/crypto/pem.ts';
import { looksLikePkcs12, pkcs12Certificates } from '../issuers/crypto/pkcs12-read.ts';

/** The facts of one certificate as the inventory keeps them: CertFacts without the key object, times as epoch ms, SAN lists capped. */
export interface CertRecord extends Omit<CertFacts, 'publicKey' | 'notBefore' | 'notAfter'> {
  /** Data key, webhook name or `caBundle`; `#n` appended for the n-th certificate (n > 0) of a chain or bundle. */
  key: string;
  notBefore: number;
  notAfter: number;
  /** All SANs, also those past the cap. */
  sanCount: number;
}

export interface ParseProblem { key: string; reason: string }
export interface Extracted { certs: CertRecord[]; problems: ParseProblem[] }

export const MAX_SANS_KEPT = 100;
/** Values larger than this are not certificates anyone mounts; skipped as a problem. */
export const MAX_VALUE_BYTES = 1024 * 1024;
export const MAX_CERTS_PER_VALUE = 100;

const PKCS12_KEY = /\.(p12|pfx)$/i;
const DER_KEY = /\.(crt|cer|der|pem|cert)$/i;
const PASSWORD_KEYS = ['password', 'keystore-password', 'keystorePassword', 'truststore-password'];
export const PKCS12_PASSWORD_ANNOTATION = 'machineidentity.io/pkcs12-password-key';

export function recordOf(f: CertFacts, key: string): CertRecord {
  const cap = (xs: string[]): string[] => (xs.length > MAX_SANS_KEPT ? xs.slice(0, MAX_SANS_KEPT) : xs);
  const r: CertRecord = {
    key, serialNumber: f.serialNumber, fingerprintSHA256: f.fingerprintSHA256, subjectDN: f.subjectDN, issuerDN: f.issuerDN,
    notBefore: f.notBefore.getTime(), notAfter: f.notAfter.getTime(), isCA: f.isCA, keyAlgorithm: f.keyAlgorithm,
    keyUsage: f.keyUsage, extKeyUsage: f.extKeyUsage, signatureAlgorithm: f.signatureAlgorithm, selfSigned: f.selfSigned,
    dnsNames: cap(f.dnsNames), ipAddresses: cap(f.ipAddresses), uris: cap(f.uris), emailAddresses: cap(f.emailAddresses),
    sanCount: f.dnsNames.length + f.ipAddresses.length + f.uris.length + f.emailAddresses.length,
  };
  if (f.commonName !== undefined) r.commonName = f.commonName;
  if (f.keySize !== undefined) r.keySize = f.keySize;
  if (f.authorityKeyId !== undefined) r.authorityKeyId = f.authorityKeyId;
  if (f.subjectKeyId !== undefined) r.subjectKeyId = f.subjectKeyId;
  return r;
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : 'unreadable').slice(0, 200);

/** Parses a list of DER certificates found under one key; each failure is a problem, the rest still count. */
function addAll(out: Extracted, key: string, ders: Buffer[]): void {
  if (ders.length > MAX_CERTS_PER_VALUE) {
    out.problems.push({ key, reason: `${ders.length} certificates, more than ${MAX_CERTS_PER_VALUE}; the first ${MAX_CERTS_PER_VALUE} kept` });
    ders = ders.slice(0, MAX_CERTS_PER_VALUE);
  }
  ders.forEach((der, i) => {
    try { out.certs.push(recordOf(parseCertificateDer(der), i === 0 ? key : `${key}#${i}`)); } catch (e) { out.problems.push({ key: i === 0 ? key : `${key}#${i}`, reason: msg(e) }); }
  });
}

/** PEM text: every CERTIFICATE block (a malformed block is one problem and stops that value). */
function fromPem(out: Extracted, key: string, text: string): void {
  let ders: Buffer[];
  try { ders = pemBlocks(text, ['CERTIFICATE', 'TRUSTED CERTIFICATE']); } catch (e) { out.problems.push({ key, reason: msg(e) }); return; }
  addAll(out, key, ders);
}

const hasPemMarker = (b: Buffer): boolean => b.includes('-----BEGIN ');

/** One value (bytes) of a Secret or ConfigMap binaryData. */
function fromBytes(out: Extracted, key: string, b: Buffer, password: () => string | undefined): void {
  if (b.length > MAX_VALUE_BYTES) {
    if (hasPemMarker(b.subarray(0, 4096)) || PKCS12_KEY.test(key) || DER_KEY.test(key)) out.problems.push({ key, reason: `value of ${b.length} bytes, over ${MAX_VALUE_BYTES}` });
    return;
  }
  if (hasPemMarker(b)) { fromPem(out, key, b.toString('latin1')); return; }
  if (PKCS12_KEY.test(key) || (b[0] === 0x30 && looksLikePkcs12(b) && !DER_KEY.test(key))) {
    try { addAll(out, key, pkcs12Certificates(b, password())); } catch (e) {
      if (PKCS12_KEY.test(key)) out.problems.push({ key, reason: msg(e) });
    }
    return;
  }
  if (DER_KEY.test(key) && b[0] === 0x30) addAll(out, key, [b]);
}

interface ObjectLike { metadata?: { annotations?: Record<string, string> | null; labels?: Record<string, string> | null } | undefined }

export function extractFromSecret(s: ObjectLike & { data?: Record<string, string> | null }): Extracted {
  const out: Extracted = { certs: [], problems: [] };
  const data = s.data ?? {};
  const managed = Boolean(s.metadata?.labels?.['machineidentity.io/identity']);
  const password = (): string | undefined => {
    const keys = [s.metadata?.annotations?.[PKCS12_PASSWORD_ANNOTATION], ...PASSWORD_KEYS].filter((k): k is string => Boolean(k));
    for (const k of keys) if (data[k] !== undefined) return Buffer.from(data[k], 'base64').toString('utf8').replace(/\r?\n$/, '');
    return '';
  };
  for (const [key, b64] of Object.entries(data)) {
    // the keystores the operator writes hold the same certificates as tls.crt and ca.crt
    if (managed && (key === 'keystore.p12' || key === 'truststore.p12')) continue;
    if (typeof b64 !== 'string' || b64.length === 0) continue;
    fromBytes(out, key, Buffer.from(b64, 'base64'), password);
  }
  return out;
}

export function extractFromConfigMap(cm: ObjectLike & { data?: Record<string, string> | null; binaryData?: Record<string, string> | null }): Extracted {
  const out: Extracted = { certs: [], problems: [] };
  for (const [key, text] of Object.entries(cm.data ?? {})) {
    if (typeof text !== 'string' || !text.includes('-----BEGIN ')) continue;
    if (text.length > MAX_VALUE_BYTES) { out.problems.push({ key, reason: `value of ${text.length} bytes, over ${MAX_VALUE_BYTES}` }); continue; }
    fromPem(out, key, text);
  }
  for (const [key, b64] of Object.entries(cm.binaryData ?? {})) {
    if (typeof b64 === 'string') fromBytes(out, key, Buffer.from(b64, 'base64'), () => '');
  }
  return out;
}

/** A base64 caBundle (PEM inside) under a display key. */
function fromCaBundle(out: Extracted, key: string, b64: string | undefined): void {
  if (!b64) return;
  const b = Buffer.from(b64, 'base64');
  if (b.length > MAX_VALUE_BYTES) { out.problems.push({ key, reason: `caBundle of ${b.length} bytes, over ${MAX_VALUE_BYTES}` }); return; }
  if (!hasPemMarker(b)) { out.problems.push({ key, reason: 'caBundle holds no PEM certificate' }); return; }
  fromPem(out, key, b.toString('latin1'));
}

interface WebhookConfigLike { webhooks?: { name?: string; clientConfig?: { caBundle?: string } }[] | null }
interface ApiServiceLike { spec?: { caBundle?: string } }
interface CrdLike { spec?: { conversion?: { webhook?: { clientConfig?: { caBundle?: string } } } } }

export function extractFromWebhookConfiguration(o: WebhookConfigLike): Extracted {
  const out: Extracted = { certs: [], problems: [] };
  for (const w of o.webhooks ?? []) fromCaBundle(out, w.name ?? 'webhook', w.clientConfig?.caBundle);
  return out;
}
export function extractFromApiService(o: ApiServiceLike): Extracted {
  const out: Extracted = { certs: [], problems: [] };
  fromCaBundle(out, 'caBundle', o.spec?.caBundle);
  return out;
}
export function extractFromCrd(o: CrdLike): Extracted {
  const out: Extracted = { certs: [], problems: [] };
  fromCaBundle(out, 'conversion.webhook.caBundle', o.spec?.conversion?.webhook?.clientConfig?.caBundle);
  return out;
}
