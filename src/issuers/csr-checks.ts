// What the in-process issuers (selfSigned, ca) check in a CSR before anything is signed: it is a PEM
// PKCS#10 request whose self-signature verifies (proof of possession of the key), and for
// self-signing, that the private key given is the CSR's. The reading and verifying is pki's.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { SignReason, type IssuerAnswerReason } from '../crds/reasons.ts';
import { firstCsrDer, takeOwnCsrKey } from '../pki/csr.ts';
import { DerError } from '../pki/der.ts';
import { csrOutline, type CsrOutline, type RawExtension } from '../pki/outlines.ts';
import { errorCode } from '../pki/errors.ts';
import { verifyWith } from '../pki/signatures.ts';

/** A CSR whose self-signature verified: the raw DER pieces the certificate copies, and its key. */
export interface VerifiedCsr {
  /** The subject Name as the requester signed it (DER). */
  subjectNameDer: Buffer;
  /** SubjectPublicKeyInfo as the requester signed it (DER). */
  spkiDer: Buffer;
  publicKey: KeyObject;
  /** The extensionRequest's extensions by OID; values are the DER extnValue contents, unchanged. */
  extensions: ReadonlyMap<string, RawExtension>;
}

export type Denial = { ok: false; reason: IssuerAnswerReason; message: string };
export type ParsedCsr = { ok: true; csr: VerifiedCsr } | Denial;

/** True for a denial among the other results a check returns. */
export function isDenial(x: unknown): x is Denial {
  return typeof x === 'object' && x !== null && 'ok' in x && x.ok === false;
}

export function invalidCsr(message: string): Denial {
  return { ok: false, reason: SignReason.InvalidCSR, message };
}

/** A requested extension whose value is not what its OID says. */
export function malformed(what: string): Denial {
  return invalidCsr(`the CSR's ${what} extension is malformed`);
}

function errorText(e: unknown): string {
  if (e instanceof DerError) return e.message;
  return errorCode(e) ?? (e instanceof Error ? e.message : 'unreadable content');
}

/** Parses a PEM CSR and checks its self-signature (proof of possession of the key), synchronously. */
export function verifyCsr(csrPem: string): ParsedCsr {
  let o: CsrOutline;
  let publicKey: KeyObject;
  let own: KeyObject | undefined;
  try {
    o = csrOutline(firstCsrDer(csrPem));
    own = takeOwnCsrKey(csrPem);
    publicKey = own ?? createPublicKey({ key: o.spki, format: 'der', type: 'spki' });
  } catch (e) {
    return invalidCsr(`the certificate signing request is not a valid PEM PKCS#10 CSR: ${errorText(e)}`);
  }
  // a CSR this process just built and signed itself needs no second signature check
  if (!own && !verifyWith(o.signatureAlgorithm, o.info, o.signature, publicKey)) {
    return invalidCsr("the CSR's signature does not verify with its own public key (corrupted CSR or wrong key)");
  }
  return { ok: true, csr: { subjectNameDer: o.subject, spkiDer: o.spki, publicKey, extensions: o.extensions } };
}

/** Parses a PEM CSR and checks its self-signature (proof of possession of the key). */
export function parseAndVerifyCsr(csrPem: string): Promise<ParsedCsr> {
  return Promise.resolve(verifyCsr(csrPem));
}

/** True when the private key is the one whose public half is in the CSR. */
export function keyMatchesCsr(key: KeyObject, csr: VerifiedCsr): boolean {
  try {
    return createPublicKey(key).equals(csr.publicKey);
  } catch {
    return false;
  }
}
