// Signature algorithms: names for reports and synchronous verification with node:crypto.
import { constants, verify as verifySignature } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { children, readOid, readTlv, TAG } from './der.ts';
import type { AlgorithmId } from './der.ts';

const SIGNATURE_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'MD5WithRSA',
  '1.2.840.113549.1.1.5': 'SHA1WithRSA',
  '1.2.840.113549.1.1.11': 'SHA256WithRSA',
  '1.2.840.113549.1.1.12': 'SHA384WithRSA',
  '1.2.840.113549.1.1.13': 'SHA512WithRSA',
  '1.2.840.10045.4.1': 'ECDSAWithSHA1',
  '1.2.840.10045.4.3.2': 'ECDSAWithSHA256',
  '1.2.840.10045.4.3.3': 'ECDSAWithSHA384',
  '1.2.840.10045.4.3.4': 'ECDSAWithSHA512',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';

/** Name of a signature algorithm: ECDSAWithSHA256, SHA256WithRSA, SHA256WithRSAPSS, Ed25519, ...; else the dotted OID. */
export function signatureAlgorithmName(alg: AlgorithmId): string {
  const known = SIGNATURE_NAMES[alg.oid];
  if (known) return known;
  if (alg.oid === RSASSA_PSS) {
    const p = verifyParams(alg);
    return p?.hash ? `${p.hash.toUpperCase()}WithRSAPSS` : 'RSASSA-PSS';
  }
  return alg.oid;
}

const HASHES: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** node:crypto verify parameters for a signature algorithm; null when unsupported. */
export function verifyParams(alg: AlgorithmId): { hash: string | null; pss?: { saltLength: number } } | null {
  try {
    return verifyParamsUnchecked(alg);
  } catch {
    return null;
  }
}

function verifyParamsUnchecked(alg: AlgorithmId): { hash: string | null; pss?: { saltLength: number } } | null {
  switch (alg.oid) {
    case '1.2.840.113549.1.1.5': return { hash: 'sha1' };
    case '1.2.840.113549.1.1.11': return { hash: 'sha256' };
    case '1.2.840.113549.1.1.12': return { hash: 'sha384' };
    case '1.2.840.113549.1.1.13': return { hash: 'sha512' };
    case '1.2.840.10045.4.1': return { hash: 'sha1' };
    case '1.2.840.10045.4.3.2': return { hash: 'sha256' };
    case '1.2.840.10045.4.3.3': return { hash: 'sha384' };
    case '1.2.840.10045.4.3.4': return { hash: 'sha512' };
    case '1.3.101.112': case '1.3.101.113': return { hash: null };
    case RSASSA_PSS: return pssParams(alg.params);
    default: return null;
  }
}

/** RSASSA-PSS-params (RFC 4055): hashAlgorithm [0], maskGenAlgorithm [1] (MGF1 with the same hash only), saltLength [2]. */
function pssParams(params: Buffer | undefined): { hash: string; pss: { saltLength: number } } | null {
  let hash = 'sha1', mgfHash = 'sha1', saltLength = 20;
  if (params) {
    const seq = readTlv(params, 0);
    if (seq.tag !== TAG.SEQUENCE) return null;
    for (const f of children(params, seq)) {
      const inner = readTlv(params, f.contentStart, f.end);
      if (f.tag === 0xa0) hash = HASHES[readOid(params, children(params, inner)[0]!)] ?? '';
      else if (f.tag === 0xa1) {
        const [mgfOid, mgfParams] = children(params, inner);
        if (!mgfOid || readOid(params, mgfOid) !== '1.2.840.113549.1.1.8' || !mgfParams) return null;
        mgfHash = HASHES[readOid(params, children(params, mgfParams)[0]!)] ?? '';
      } else if (f.tag === 0xa2) {
        if (inner.tag !== TAG.INTEGER || inner.end - inner.contentStart > 2) return null;
        saltLength = params.readUIntBE(inner.contentStart, inner.end - inner.contentStart);
      }
    }
  }
  if (!hash || hash !== mgfHash) return null;
  return { hash, pss: { saltLength } };
}

/** Verifies `signature` over `data`; false (never a throw) for unsupported algorithms or bad signatures. */
export function verifyWith(alg: AlgorithmId, data: Buffer, signature: Buffer, publicKey: KeyObject): boolean {
  try {
    const p = verifyParams(alg);
    if (!p) return false;
    const key = p.pss ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.pss.saltLength } : publicKey;
    return verifySignature(p.hash, data, key, signature);
  } catch {
    return false;
  }
}

