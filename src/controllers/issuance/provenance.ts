// Whether the certificate in a managed Secret is one this operator issued for this identity. Anyone
// who can write the Secret (a namespace editor) can swap in a key pair of their own: same names,
// a key that matches, any issuer and lifetime. The identity's status records the fingerprint of what
// was issued; a different certificate is accepted only when it is the newer revision a crash left
// between the Secret write and the status write AND it chains to the authority's CA.
import { X509Certificate } from 'node:crypto';
import { splitPem } from '../../pki/certs.ts';

export interface ProvenanceInput {
  /** SHA-256 fingerprint of the Secret's leaf certificate. */
  leafFingerprint: string;
  /** What status says was issued (undefined before the first status write). */
  statusFingerprint?: string;
  /** The Secret's revision annotation and the status revision. */
  secretRevision?: number;
  statusRevision?: number;
  /** The leaf chains (through the Secret's own intermediates) to a CA the authority issues from. */
  chainsToAuthority: boolean;
  /** selfSigned: there is no CA to chain to, so only the recorded fingerprint can tell. */
  selfSigned: boolean;
}

/** undefined when the certificate is ours; otherwise why it is not (the CertificateReplaced message). */
export function provenanceProblem(i: ProvenanceInput): string | undefined {
  const ownCa = i.selfSigned || i.chainsToAuthority;
  if (adopted(i, ownCa)) return undefined;
  const was = i.statusFingerprint ? `status records ${i.statusFingerprint}` : 'no certificate was recorded for it';
  return `the Secret holds a certificate (SHA-256 ${i.leafFingerprint}) that was not issued for this identity (${was}${ownCa ? '' : "; it does not chain to the authority's CA"})`;
}

/** The certificate is the recorded one, or one a crash left between the Secret and the status write. */
function adopted(i: ProvenanceInput, ownCa: boolean): boolean {
  if (i.statusFingerprint === undefined || i.statusFingerprint === '') return ownCa; // issued before any status write (a crash): adopt
  if (i.statusFingerprint.toUpperCase() === i.leafFingerprint.toUpperCase()) return true;
  const newer = i.statusRevision === undefined || (i.secretRevision ?? 0) > i.statusRevision;
  return newer && ownCa && !i.selfSigned; // a newer revision from our CA: adopt
}

/**
 * Whether the first certificate of `tlsCrt` verifies, through the certificates after it, up to one
 * of the CA certificates in `caBundle` (signatures and issuer names only: validity is checked elsewhere).
 */
const MAX_CHAIN = 6;
/** A leaf and a few intermediates fit many times over; more is a tenant's padding, parsed on the main thread otherwise. */
const MAX_CHAIN_BYTES = 64 * 1024;

export function chainsTo(tlsCrt: string, caBundle: string): boolean {
  if (tlsCrt.length > MAX_CHAIN_BYTES) return false;
  try {
    // tls.crt is tenant-writable: a leaf and a few intermediates are all a chain needs (bounds the work)
    const chain = splitPem(tlsCrt)
      .slice(0, MAX_CHAIN)
      .map((p) => new X509Certificate(p));
    const roots = splitPem(caBundle).map((p) => new X509Certificate(p));
    const [leaf, ...intermediates] = chain;
    return leaf !== undefined && roots.length > 0 && reachesRoot(leaf, intermediates, roots);
  } catch {
    return false;
  }
}

/** Follows issuers from the leaf through the intermediates (at most 8 steps) until one is signed by, or is, a root. */
function reachesRoot(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[]): boolean {
  let cur = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const at = cur;
    if (roots.some((r) => at.checkIssued(r) && at.verify(r.publicKey))) return true;
    if (roots.some((r) => r.fingerprint256 === at.fingerprint256) && depth > 0) return true;
    const next = intermediates.find((c) => at.checkIssued(c) && at.verify(c.publicKey));
    if (!next || next === at) return false;
    cur = next;
  }
  return false;
}
