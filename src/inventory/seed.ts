// The inventory's parse of a Secret this process has just written, answered without the parse worker.
// The issuance already knows what it wrote: its own private key, the leaf it parsed and checked, and the
// CA's chain and ca.crt (the same text for every identity of an authority, parsed once in the worker and
// remembered). What it knows is handed over as a seed keyed by the content digest of exactly the values
// the API server answered the write with; the inventory's Secret informer takes the seed for the watch
// event of that write instead of a parse. Any other content (a tenant's edit, a copy with one value
// changed, a value the seed does not account for) has another digest and is parsed as before.
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { CertFacts } from '../pki/certs.ts';
import type { Parser } from '../parsing/parser.ts';
import { recordOf, type CertRecord } from './cert-record.ts';
import type { Extracted, ParseBudget } from './extract.ts';
import { slimForParse } from './slim.ts';
import { propertyOf } from '../runtime/narrow.ts';

/** The digest answers are remembered by: the kind and the exact slimmed values the worker would get. */
export function contentDigest(kind: string, slim: Record<string, unknown>): string {
  return createHash('sha256').update(kind).update('\0').update(JSON.stringify(slim)).digest('base64');
}

/** What this process knows of the values it wrote, without having parsed cluster bytes for them. */
export interface OwnValues {
  /** Each value as this process sent it (base64). */
  data: Record<string, string>;
  /** The certificates of a value, as the worker's parse records them (in order, with their keys). */
  certs: Record<string, CertRecord[]>;
  /** The public key's SHA-256 of a value that holds one private key (and nothing else). */
  keys: Record<string, string>;
}

const IDENTITY_LABEL = 'machineidentity.io/identity';
/**
 * Keystores: the worker reads them in every Secret (a label is tenant-writable, so it must not make the
 * inventory skip one); their facts are not at hand here without a PKCS#12 parse, so a Secret with one is
 * left to the worker.
 */
const KEYSTORES = new Set(['keystore.p12', 'truststore.p12']);
/** The worker's own limits (extract.ts): a value over them is left to the worker to report. */
const MAX_VALUE_BYTES = 1024 * 1024;
const MAX_CERTS_PER_VALUE = 100;

/** The string values of `slim`'s data in the order the worker reads them, when its labels mark our managed Secret. */
function managedValues(slim: Record<string, unknown>): [string, string][] | undefined {
  const labels = propertyOf(propertyOf(slim, 'metadata'), 'labels');
  const data = propertyOf(slim, 'data');
  if (!propertyOf(labels, IDENTITY_LABEL) || typeof data !== 'object' || data === null) return undefined;
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(data)) if (typeof v === 'string') out.push([k, v]);
  return out;
}

/**
 * What the worker's parse of `slim` (a slimmed Secret) would answer, from `own`; undefined when any value
 * of `slim` is not exactly one this process wrote with known facts, or when the parse would report a
 * problem (over a budget): that content is parsed as usual.
 */
export function seededFacts(
  slim: Record<string, unknown>,
  own: OwnValues,
  budget: Pick<ParseBudget, 'maxObjectBytes' | 'maxCertificates'>,
): Extracted | undefined {
  const values = managedValues(slim);
  if (!values) return undefined;
  if (values.reduce((n, [, v]) => n + Math.floor((v.length * 3) / 4), 0) > budget.maxObjectBytes) return undefined;
  const certs: CertRecord[] = [];
  const keys: { key: string; publicKeySHA256: string }[] = [];
  for (const [key, value] of values) {
    if (KEYSTORES.has(key)) return undefined;
    if (value.length === 0) continue;
    const known = knownValue(own, key, value);
    if (!known) return undefined;
    if ('certs' in known) {
      if (known.certs.length > Math.min(MAX_CERTS_PER_VALUE, budget.maxCertificates - certs.length)) return undefined;
      certs.push(...known.certs);
    } else keys.push({ key, publicKeySHA256: known.key });
  }
  return keys.length ? { certs, problems: [], keys } : { certs, problems: [] };
}

/** The facts of a value that is exactly one we sent (certificates, or one private key); undefined otherwise. */
function knownValue(own: OwnValues, key: string, value: string): { certs: CertRecord[] } | { key: string } | undefined {
  if (own.data[key] !== value || (value.length * 3) / 4 > MAX_VALUE_BYTES) return undefined;
  const c = own.certs[key],
    k = own.keys[key];
  if (c && k === undefined) return { certs: c };
  if (k !== undefined && !c) return { key: k };
  return undefined; // neither known, or both (a value we never write)
}

// Seeds wait only for the watch event of the write (milliseconds); bounded in case it never comes.
const MAX_SEEDS = 256;
const seeds = new Map<string, Extracted>();
let consumers = 0;

/** Called by each inventory that takes seeds; without one, nothing is seeded. */
export function acceptSeeds(): void {
  consumers++;
}

/** The seed for `digest`, taken once. */
export function takeSeed(digest: string): Extracted | undefined {
  const s = seeds.get(digest);
  if (s) seeds.delete(digest);
  return s;
}

/**
 * Seeds the inventory's answer for `written` (the API server's answer to our write): only when every
 * value the worker would parse is one we sent, with known facts.
 */
export function seedWritten(written: k8s.V1Secret, own: OwnValues, budget: ParseBudget): boolean {
  if (consumers === 0) return false;
  let slim: Record<string, unknown> | undefined;
  try {
    slim = slimForParse('Secret', written as unknown as Record<string, unknown>);
  } catch {
    return false;
  }
  if (!slim) return false;
  const facts = seededFacts(slim, own, budget);
  if (!facts) return false;
  seeds.set(contentDigest('Secret', slim), facts);
  const oldest = seeds.keys().next();
  if (seeds.size > MAX_SEEDS && !oldest.done) seeds.delete(oldest.value);
  return true;
}

// CA text (a chain, a ca.crt bundle) → its records as the worker made them: the same few texts for all
// identities of an authority. Parsed in the worker once per text; bounded.
const MAX_CA_TEXTS = 64;
const caTexts = new Map<string, CertRecord[] | 'pending' | 'unusable'>();

/**
 * The records of the certificates in PEM `text` under data key `key` (`key`, `key#1`, ...), as the worker
 * parses them, or undefined while they are not known yet: the first call starts the parse in the worker.
 * A text with a private key or anything the worker would report stays unusable.
 */
function caTextRecords(parser: Parser, text: string, key: string, firstIndex = 0): CertRecord[] | undefined {
  const known = caTexts.get(text);
  if (known === undefined) {
    if (caTexts.size >= MAX_CA_TEXTS) caTexts.clear();
    caTexts.set(text, 'pending');
    if (!isPlainCertificateText(text)) caTexts.set(text, 'unusable');
    else
      void parser.extract('ConfigMap', { data: { x: text } }).then((x) => {
        caTexts.set(text, x.problems.length ? 'unusable' : x.certs);
      });
    return undefined;
  }
  if (typeof known === 'string') return undefined;
  return known.map((r, i) => ({ ...r, key: i + firstIndex === 0 ? key : `${key}#${i + firstIndex}` }));
}

/** ASCII PEM without private keys: its reading is the same as a Secret value's or a ConfigMap's. */
function isPlainCertificateText(text: string): boolean {
  return text.length > 0 && /^[\x20-\x7e\r\n\t]*$/.test(text) && !text.includes('PRIVATE KEY-----');
}

/** A leaf PEM the worker would read as exactly one certificate, the one `leaf` was parsed from. */
function singleBlock(leafPem: string): boolean {
  return (
    isPlainCertificateText(leafPem) &&
    leafPem.split('-----BEGIN ').length === 2 &&
    leafPem.includes('-----BEGIN CERTIFICATE-----')
  );
}

const KEY_LABELS = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY'];
/** One unencrypted private key block, as the worker fingerprints it (an encrypted key is not). */
function singleKey(keyPem: string): boolean {
  const parts = keyPem.split('-----BEGIN ');
  return parts.length === 2 && KEY_LABELS.some((l) => parts[1]?.startsWith(`${l}-----`));
}

const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');

/**
 * What the issuance knows of the Secret it writes: tls.crt (the leaf it parsed and checked, then the CA's
 * chain), tls.key (the key of that leaf, checked to match before the write) and ca.crt. Each value is
 * vouched for only when it is exactly the text whose facts are known. Undefined while the CA's texts are
 * not parsed yet (the first issuance of an authority) or when a text is not plain certificates.
 */
export function ownTlsValues(
  parser: Parser,
  w: {
    /** The values sent, base64. */
    data: Record<string, string>;
    leaf: CertFacts;
    leafPem: string;
    chainPem: string[];
    keyPem: string;
    caPem: string;
  },
): OwnValues | undefined {
  const line = (p: string): string => (p.endsWith('\n') ? p : `${p}\n`);
  const chainText = w.chainPem.map(line).join('');
  if (!singleBlock(w.leafPem) || !singleKey(w.keyPem)) return undefined;
  const sent = { 'tls.crt': b64(line(w.leafPem) + chainText), 'tls.key': b64(w.keyPem), 'ca.crt': b64(w.caPem) };
  for (const [k, v] of Object.entries(sent)) if (w.data[k] !== v) return undefined;
  const chain = chainText ? caTextRecords(parser, chainText, 'tls.crt', 1) : [];
  const ca = caTextRecords(parser, w.caPem, 'ca.crt');
  if (!chain || !ca) return undefined;
  const { record } = recordOf(w.leaf, 'tls.crt');
  return {
    data: sent,
    certs: { 'tls.crt': [record, ...chain], 'ca.crt': ca },
    keys: { 'tls.key': record.publicKeySHA256 },
  };
}
