// Signature algorithms as they arrive in certificates and CSRs: their report names and synchronous
// verification with node:crypto. The algorithms themselves are the table in algorithms.ts.
import { constants, verify as verifySignature } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { RSASSA_PSS_OID, signatureAlgorithmByOid } from './algorithms.ts';
import { children, readOid, readTlv, TAG } from './der.ts';
import type { AlgorithmId, Tlv } from './der.ts';

interface VerifyParams {
  hash: string | null;
  pss?: { saltLength: number };
}

/** Name of a signature algorithm: ECDSAWithSHA256, SHA256WithRSA, SHA256WithRSAPSS, Ed25519, ...; else the dotted OID. */
export function signatureAlgorithmName(alg: AlgorithmId): string {
  const known = signatureAlgorithmByOid(alg.oid);
  if (known) return known.name;
  if (alg.oid === RSASSA_PSS_OID) {
    const p = verifyParams(alg);
    return p?.hash ? `${p.hash.toUpperCase()}WithRSAPSS` : 'RSASSA-PSS';
  }
  return alg.oid;
}

const HASHES: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const MGF1 = '1.2.840.113549.1.1.8';

/** node:crypto verify parameters for a signature algorithm; null when unsupported. */
function verifyParams(alg: AlgorithmId): VerifyParams | null {
  try {
    if (alg.oid === RSASSA_PSS_OID) return pssParams(alg.params);
    const row = signatureAlgorithmByOid(alg.oid);
    return row?.verifies ? { hash: row.hash } : null;
  } catch {
    return null;
  }
}

/** The hash named by the AlgorithmIdentifier inside `el`; '' when unknown. */
function hashOf(params: Buffer, el: Tlv | undefined): string {
  const [oid] = el ? children(params, el) : [];
  return oid ? (HASHES[readOid(params, oid)] ?? '') : '';
}

/** maskGenAlgorithm: MGF1 with a hash; null for any other mask generation function. */
function mgfHashOf(params: Buffer, inner: Tlv): string | null {
  const [mgfOid, mgfParams] = children(params, inner);
  if (!mgfOid || readOid(params, mgfOid) !== MGF1 || !mgfParams) return null;
  return hashOf(params, mgfParams);
}

/** saltLength INTEGER of at most two octets; null otherwise. */
function saltLengthOf(params: Buffer, inner: Tlv): number | null {
  if (inner.tag !== TAG.INTEGER || inner.end - inner.contentStart > 2) return null;
  return params.readUIntBE(inner.contentStart, inner.end - inner.contentStart);
}

/** RSASSA-PSS-params (RFC 4055): hashAlgorithm [0], maskGenAlgorithm [1] (MGF1 with the same hash only), saltLength [2]. */
function pssParams(params: Buffer | undefined): { hash: string; pss: { saltLength: number } } | null {
  let hash = 'sha1';
  let mgfHash: string | null = 'sha1';
  let saltLength: number | null = 20;
  if (params) {
    const seq = readTlv(params, 0);
    if (seq.tag !== TAG.SEQUENCE) return null;
    for (const f of children(params, seq)) {
      const inner = readTlv(params, f.contentStart, f.end);
      if (f.tag === 0xa0) hash = hashOf(params, inner);
      else if (f.tag === 0xa1) mgfHash = mgfHashOf(params, inner);
      else if (f.tag === 0xa2) saltLength = saltLengthOf(params, inner);
      if (mgfHash === null || saltLength === null) return null;
    }
  }
  if (!hash || hash !== mgfHash || saltLength === null) return null;
  return { hash, pss: { saltLength } };
}

/** Verifies `signature` over `data`; false (never a throw) for unsupported algorithms or bad signatures. */
export function verifyWith(alg: AlgorithmId, data: Buffer, signature: Buffer, publicKey: KeyObject): boolean {
  try {
    const p = verifyParams(alg);
    if (!p) return false;
    const key = p.pss
      ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.pss.saltLength }
      : publicKey;
    return verifySignature(p.hash, data, key, signature);
  } catch {
    return false;
  }
}
