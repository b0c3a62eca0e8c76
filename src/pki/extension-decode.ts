// Decoders for the extension values we read back (from CSRs and certificates). Each checks the DER
// strictly: a malformed value is reported (undefined or DerError), never half-read.
import { children, content, DerError, readOid, readTlv, TAG } from './der.ts';

export interface BasicConstraints {
  ca: boolean;
  pathLen?: number;
}

/** One INTEGER (0..2^31) filling content from `p` to `end`; undefined when it is not one. */
function pathLenAt(der: Uint8Array, p: number, end: number): number | undefined {
  const n = readTlv(der, p, end);
  const len = n.end - n.contentStart;
  const first = der[n.contentStart] ?? 0x80;
  if (n.tag !== TAG.INTEGER || len < 1 || len > 4 || first & 0x80 || n.end !== end) return undefined;
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength).readUIntBE(n.contentStart, len);
}

function decodeBasicConstraintsUnchecked(der: Uint8Array): BasicConstraints | undefined {
  const seq = readTlv(der, 0);
  if (seq.tag !== TAG.SEQUENCE || seq.end !== der.length) return undefined;
  let p = seq.contentStart;
  let ca = false;
  if (p < seq.end && der[p] === TAG.BOOLEAN) {
    const b = readTlv(der, p, seq.end);
    if (b.end - b.contentStart !== 1) return undefined;
    ca = der[b.contentStart] !== 0;
    p = b.end;
  }
  if (p === seq.end) return { ca };
  const pathLen = pathLenAt(der, p, seq.end);
  return pathLen === undefined ? undefined : { ca, pathLen };
}

/**
 * BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL };
 * undefined when the value is not exactly that (pathLenConstraint is read up to 4 octets).
 */
export function decodeBasicConstraints(der: Uint8Array): BasicConstraints | undefined {
  try {
    return decodeBasicConstraintsUnchecked(der);
  } catch {
    return undefined;
  }
}

/** ExtKeyUsageSyntax ::= SEQUENCE OF KeyPurposeId */
export function decodeOidList(der: Uint8Array): string[] {
  const seq = readTlv(der, 0);
  if (seq.tag !== TAG.SEQUENCE || seq.end !== der.length) throw new DerError('malformed extendedKeyUsage');
  return children(der, seq).map((t) => readOid(der, t));
}

/** The key identifier in a subjectKeyIdentifier extension value; undefined when malformed or empty. */
export function subjectKeyIdentifierOf(value: Buffer): Buffer | undefined {
  try {
    const t = readTlv(value, 0);
    if (t.tag !== TAG.OCTET_STRING || t.end !== value.length || t.end === t.contentStart) return undefined;
    return content(value, t);
  } catch {
    return undefined;
  }
}
