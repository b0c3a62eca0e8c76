// Finding certificates in API objects: Secrets (any key holding PEM or DER certificates, PKCS#12 when
// its password is known), ConfigMaps (CA bundles), and the caBundle of webhook configurations,
// APIServices and CRD conversion webhooks. Pure and total: hostile content becomes a counted
// problem, never an exception, and only the parsed facts are kept (never key material or raw data).
// Runs in the parse pool's worker (src/parsing/tasks.ts), within a per-object budget; the main
// thread only calls slimForParse (slim.ts), which decides cheaply what (if anything) needs parsing.
import { parseCertificateDer } from '../pki/certs.ts';
import { recordOf, type CertRecord } from './cert-record.ts';
import { hasPemMarker, pemBlocks } from '../pki/pem.ts';
import {
  DEFAULT_PKCS12_BUDGET,
  looksLikePkcs12,
  Pkcs12BudgetError,
  pkcs12Certificates,
  type Pkcs12Budget,
} from '../pki/pkcs12-read.ts';
import { dropEmptyKeys, keysFromPem, knownPublicKey, type KeyRecord, type KnownPublicKey } from './key-facts.ts';

/**
 * Why a value could not be read, as a bounded metric label: `unreadable` (malformed), `oversize` (over a
 * byte budget), `too_many_certificates`, `pkcs12_budget` (sections, bags or key-derivation iterations),
 * and what the parse pool reports when it had to stop a worker (`timeout`, `worker_memory`, `worker_crashed`).
 */
type ProblemCode =
  | 'unreadable'
  | 'oversize'
  | 'too_many_certificates'
  | 'pkcs12_budget'
  | 'timeout'
  | 'worker_memory'
  | 'worker_crashed';
export interface ParseProblem {
  key: string;
  reason: string;
  code?: ProblemCode;
}
export interface Extracted {
  certs: CertRecord[];
  problems: ParseProblem[];
  /** Public-key fingerprints of the private keys in a Secret's values (the keys themselves stay in the worker). */
  keys?: KeyRecord[];
}

/** Values larger than this are not certificates anyone mounts; skipped as a problem. */
const MAX_VALUE_BYTES = 1024 * 1024;
const MAX_CERTS_PER_VALUE = 100;

/** What reading one object may cost (the wall-time limit is the parse pool's). */
export interface ParseBudget {
  /** Bytes of all the values that are parsed, summed. */
  maxObjectBytes: number;
  /** Certificates kept per object (each value is also capped at MAX_CERTS_PER_VALUE). */
  maxCertificates: number;
  pkcs12: Pkcs12Budget;
}
// 512 KiB: Mozilla's whole root store is ~220 KB of PEM; a Java truststore of it about as much
export const DEFAULT_PARSE_BUDGET: ParseBudget = {
  maxObjectBytes: 512 * 1024,
  maxCertificates: 500,
  pkcs12: DEFAULT_PKCS12_BUDGET,
};
let budget: ParseBudget = DEFAULT_PARSE_BUDGET;
/** Sets the budget of this thread's extractors (the worker gets it from the pool's first task). */
export function setParseBudget(b: ParseBudget): void {
  budget = b;
}

const PKCS12_KEY = /\.(p12|pfx)$/i;
const DER_KEY = /\.(crt|cer|der|pem|cert)$/i;
export const PASSWORD_KEYS = ['password', 'keystore-password', 'keystorePassword', 'truststore-password'];
export const PKCS12_PASSWORD_ANNOTATION = 'machineidentity.io/pkcs12-password-key';

/**
 * A Secret being read: its private keys are fingerprinted after every value was read, so that a key whose
 * encoding carries the public key of one of the Secret's certificates (whatever the value names' order) needs
 * no derivation.
 */
interface SecretScan extends Extracted {
  keyTexts: { key: string; text: string }[];
  known: KnownPublicKey[];
}
const isSecretScan = (out: Extracted): out is SecretScan => 'keyTexts' in out;
/** Certificates of one Secret whose public keys its private keys are compared with (more are derived). */
const MAX_KNOWN = 16;

const msg = (e: unknown): string => (e instanceof Error ? e.message : 'unreadable').slice(0, 200);
const problem = (key: string, e: unknown): ParseProblem => ({
  key,
  reason: msg(e),
  code: e instanceof Pkcs12BudgetError ? 'pkcs12_budget' : 'unreadable',
});

/** Parses a list of DER certificates found under one key; each failure is a problem, the rest still count. */
function addAll(out: Extracted, key: string, ders: Buffer[]): void {
  const room = Math.min(MAX_CERTS_PER_VALUE, budget.maxCertificates - out.certs.length);
  if (ders.length > room) {
    out.problems.push({
      key,
      reason: `${ders.length} certificates, more than ${Math.max(room, 0)} left in the budget; the first ${Math.max(room, 0)} kept`,
      code: 'too_many_certificates',
    });
    ders = ders.slice(0, Math.max(room, 0));
  }
  ders.forEach((der, i) => {
    try {
      const { record, spki } = recordOf(parseCertificateDer(der), i === 0 ? key : `${key}#${i}`);
      out.certs.push(record);
      if (isSecretScan(out) && out.known.length < MAX_KNOWN) {
        const k = knownPublicKey(spki, record.publicKeySHA256);
        if (k) out.known.push(k);
      }
    } catch (e) {
      out.problems.push(problem(i === 0 ? key : `${key}#${i}`, e));
    }
  });
}

/** PEM text: every CERTIFICATE block (a malformed block is one problem and stops that value). */
function fromPem(out: Extracted, key: string, text: string): void {
  if (isSecretScan(out) && text.includes('PRIVATE KEY-----')) out.keyTexts.push({ key, text }); // tls.key, or a key next to its certificate
  let ders: Buffer[];
  try {
    ders = pemBlocks(text, ['CERTIFICATE', 'TRUSTED CERTIFICATE']);
  } catch (e) {
    out.problems.push(problem(key, e));
    return;
  }
  addAll(out, key, ders);
}

/** One value (bytes) of a Secret or ConfigMap binaryData. */
function fromBytes(out: Extracted, key: string, b: Buffer, password: () => string | undefined): void {
  if (b.length > MAX_VALUE_BYTES) {
    if (hasPemMarker(b.subarray(0, 4096)) || namedLikeCertificates(key))
      out.problems.push({ key, reason: `value of ${b.length} bytes, over ${MAX_VALUE_BYTES}`, code: 'oversize' });
    return;
  }
  if (hasPemMarker(b)) fromPem(out, key, b.toString('latin1'));
  else if (PKCS12_KEY.test(key) || (b[0] === 0x30 && looksLikePkcs12(b) && !DER_KEY.test(key)))
    fromPkcs12(out, key, b, password);
  else if (DER_KEY.test(key) && b[0] === 0x30) addAll(out, key, [b]);
}

export function namedLikeCertificates(key: string): boolean {
  return PKCS12_KEY.test(key) || DER_KEY.test(key);
}

function fromPkcs12(out: Extracted, key: string, b: Buffer, password: () => string | undefined): void {
  try {
    addAll(out, key, pkcs12Certificates(b, password(), budget.pkcs12));
  } catch (e) {
    // a sniffed PFX under another key name is reported only when it is over the budget (a bomb, whatever its name)
    if (PKCS12_KEY.test(key) || e instanceof Pkcs12BudgetError) out.problems.push(problem(key, e));
  }
}

export interface ObjectLike {
  metadata?: { annotations?: Record<string, string> | null; labels?: Record<string, string> | null } | undefined;
}

export function extractFromSecret(s: ObjectLike & { data?: Record<string, string> | null }): Extracted {
  const out: SecretScan = { certs: [], problems: [], keyTexts: [], known: [] };
  const data = s.data ?? {};
  const password = (): string | undefined => {
    const keys = [s.metadata?.annotations?.[PKCS12_PASSWORD_ANNOTATION], ...PASSWORD_KEYS].filter((k): k is string =>
      Boolean(k),
    );
    for (const k of keys)
      if (data[k] !== undefined)
        return Buffer.from(data[k], 'base64')
          .toString('utf8')
          .replace(/\r?\n$/, '');
    return '';
  };
  const total = Object.values(data).reduce(
    (n, v) => n + (typeof v === 'string' ? Math.floor((v.length * 3) / 4) : 0),
    0,
  );
  if (total > budget.maxObjectBytes)
    return {
      certs: [],
      problems: [{ key: '', reason: `${total} bytes to parse, over ${budget.maxObjectBytes}`, code: 'oversize' }],
    };
  for (const [key, b64] of Object.entries(data)) {
    // every value is read, keystores included, whatever the labels say: a label is tenant-writable, and
    // skipping the keystores of "managed" Secrets let anyone hide a certificate in one by adding it
    if (typeof b64 !== 'string' || b64.length === 0) continue;
    fromBytes(out, key, Buffer.from(b64, 'base64'), password);
  }
  const keys: KeyRecord[] = [];
  for (const { key, text } of out.keyTexts) keysFromPem(keys, key, text, out.known);
  return dropEmptyKeys({ certs: out.certs, problems: out.problems, keys });
}

export function extractFromConfigMap(
  cm: ObjectLike & { data?: Record<string, string> | null; binaryData?: Record<string, string> | null },
): Extracted {
  const out: Extracted = { certs: [], problems: [] };
  const total = [...Object.values(cm.data ?? {}), ...Object.values(cm.binaryData ?? {})].reduce(
    (n, v) => n + (typeof v === 'string' ? v.length : 0),
    0,
  );
  if (total > (budget.maxObjectBytes * 4) / 3)
    return {
      certs: [],
      problems: [
        {
          key: '',
          reason: `${total} characters to parse, over the budget of ${budget.maxObjectBytes} bytes`,
          code: 'oversize',
        },
      ],
    };
  for (const [key, text] of Object.entries(cm.data ?? {})) {
    if (typeof text !== 'string' || !hasPemMarker(text)) continue;
    if (text.length > MAX_VALUE_BYTES) {
      out.problems.push({ key, reason: `value of ${text.length} bytes, over ${MAX_VALUE_BYTES}`, code: 'oversize' });
      continue;
    }
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
  if (b.length > MAX_VALUE_BYTES) {
    out.problems.push({ key, reason: `caBundle of ${b.length} bytes, over ${MAX_VALUE_BYTES}`, code: 'oversize' });
    return;
  }
  if (!hasPemMarker(b)) {
    out.problems.push({ key, reason: 'caBundle holds no PEM certificate', code: 'unreadable' });
    return;
  }
  fromPem(out, key, b.toString('latin1'));
}

export interface WebhookConfigLike {
  webhooks?: { name?: string; clientConfig?: { caBundle?: string } }[] | null;
}
export interface ApiServiceLike {
  spec?: { caBundle?: string };
}
export interface CrdLike {
  spec?: { conversion?: { webhook?: { clientConfig?: { caBundle?: string } } } };
}

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

export const EXTRACTORS: Record<string, (o: never) => Extracted> = {
  Secret: extractFromSecret,
  ConfigMap: extractFromConfigMap,
  ValidatingWebhookConfiguration: extractFromWebhookConfiguration,
  MutatingWebhookConfiguration: extractFromWebhookConfiguration,
  APIService: extractFromApiService,
  CustomResourceDefinition: extractFromCrd,
};
