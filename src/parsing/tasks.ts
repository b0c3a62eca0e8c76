// What the parse pool's worker can do (src/runtime/parse-pool.ts): every parse of bytes
// that come from the cluster. Each op takes plain data and returns plain data (KeyObjects cross the
// thread boundary by structured clone); a throw becomes the caller's rejected promise.
import type { KeyObject } from 'node:crypto';
import { EXTRACTORS, setParseBudget, type Extracted, type ParseBudget } from '../inventory/extract.ts';
import { parseCertificate, splitPem, type CertFacts } from '../pki/certs.ts';
import { parsePrivateKey, samePublicKey } from '../pki/keys.ts';
import { requestKey, type KeyFields } from '../controllers/signer/pod-certificate.ts';

export interface ExtractInput {
  kind: string;
  obj: Record<string, unknown>;
  budget: ParseBudget;
}
/** tls.crt and tls.key of a managed Secret, base64 as in the object. */
export interface ManagedInput {
  crt?: string;
  key?: string;
}
export interface ManagedFacts {
  hasData: boolean;
  leaf?: CertFacts;
  keyMatches: boolean;
}

function extract({ kind, obj, budget }: ExtractInput): Extracted {
  setParseBudget(budget);
  const fn = EXTRACTORS[kind];
  if (!fn) throw new Error(`no extractor for ${kind}`);
  return fn(obj as never);
}

/** The leaf of tls.crt and whether tls.key is its key; the private key never leaves the worker. */
export function managedFacts({ crt, key }: ManagedInput): ManagedFacts {
  if (!crt || !key) return { hasData: false, keyMatches: false };
  let leaf: CertFacts | undefined, priv: KeyObject | undefined;
  try {
    leaf = parseCertificate(splitPem(Buffer.from(crt, 'base64').toString('utf8'))[0] ?? '');
  } catch {
    leaf = undefined;
  }
  try {
    priv = parsePrivateKey(Buffer.from(key, 'base64').toString('utf8'));
  } catch {
    priv = undefined;
  }
  return {
    hasData: true,
    ...(leaf ? { leaf } : {}),
    keyMatches: Boolean(leaf && priv && samePublicKey(leaf.publicKey, priv)),
  };
}

/** A private key PEM (base64 as in a Secret) as a KeyObject. */
function privateKey(b64: string): KeyObject {
  return parsePrivateKey(Buffer.from(b64, 'base64').toString('utf8'));
}

/** A PodCertificateRequest's public key (its stub CSR's, or v1beta1's pkixPublicKey with its proof), or why not. */
function podCertificateKey(f: KeyFields): ReturnType<typeof requestKey> {
  return requestKey(f);
}

export default { extract, managedFacts, privateKey, podCertificateKey } satisfies Record<
  string,
  (input: never) => unknown
>;
export const TASKS_URL = new URL(import.meta.url);
