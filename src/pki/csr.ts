// PKCS#10 certificate requests: built with our DER writer from a node:crypto key and signed
// synchronously, read back with a DER walk and verified synchronously with node:crypto.
import { createPublicKey, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { signatureAlgorithmFor } from './algorithms.ts';
import { DerError, encodeOid, TAG, tlv } from './der.ts';
import { csrOutline, EXTENSION_REQUEST_OID, type RawExtension } from './outlines.ts';
import { errorCode } from './errors.ts';
import { decodeBasicConstraints, decodeOidList } from './extension-decode.ts';
import {
  basicConstraintsValue,
  encodeExtension,
  EXTENSION_OIDS,
  extKeyUsageValue,
  keyUsageValue,
} from './extensions.ts';
import { describeKey } from './keys.ts';
import { buildName, encodeSan, ipBytes, parseName, parseSan } from './names.ts';
import type { SanInput, SanLists, SubjectFields, SubjectInput } from './names.ts';
import { decodeKeyUsage, extKeyUsageNames, keyUsageNames, resolveUsages } from './usages.ts';
import { pemBlocks, toPem } from './pem.ts';
import { verifyWith } from './signatures.ts';

export interface CsrRequest extends SanInput {
  subject?: SubjectInput | undefined;
  /** Contract usage names (serverAuth, digitalSignature, ...). */
  usages: readonly string[];
  isCA: boolean;
}

export interface CsrFacts extends SanLists {
  publicKey: KeyObject;
  subject: SubjectFields;
  /** RFC 4514 string (most specific RDN first), e.g. `CN=api,O=payments`. */
  subjectDN: string;
  /** keyUsage as contract names, in bit order; empty without the extension. */
  keyUsage: string[];
  /** extendedKeyUsage as contract names; OIDs without a name stay dotted. */
  extKeyUsage: string[];
  isCA: boolean;
  /** The CSR's self-signature verifies with its own public key. */
  signatureValid: boolean;
}

const OIDS = {
  san: EXTENSION_OIDS.subjectAltName,
  keyUsage: EXTENSION_OIDS.keyUsage,
  extKeyUsage: EXTENSION_OIDS.extKeyUsage,
  basicConstraints: EXTENSION_OIDS.basicConstraints,
} as const;

/** The labels a PKCS#10 request's PEM block may carry (NEW: Netscape and old OpenSSL). */
const CSR_PEM_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'];

/** DER of the first CSR block in `pem`; throws when there is none (or the PEM is malformed). */
export function firstCsrDer(pem: string): Buffer {
  const [der] = pemBlocks(pem, CSR_PEM_LABELS);
  if (!der) throw new Error('no CERTIFICATE REQUEST PEM block found');
  return der;
}

function validateNames(req: CsrRequest): void {
  for (const ip of req.ipAddresses ?? []) ipBytes(ip);
  for (const [what, list] of [
    ['DNS name', req.dnsNames],
    ['URI', req.uris],
    ['e-mail address', req.emailAddresses],
  ] as const) {
    for (const v of list ?? []) {
      // IA5String: ASCII only (internationalised names must be given in their ASCII form).
      if (v === '' || !/^[\x21-\x7e]+$/.test(v))
        throw new Error(`invalid ${what} ${JSON.stringify(v)}: must be non-empty printable ASCII`);
    }
  }
}

/**
 * Builds a PEM PKCS#10 request with an extensionRequest for SAN, keyUsage, extendedKeyUsage and
 * basicConstraints: encoded with our DER writer and signed synchronously with node:crypto (through
 * @peculiar/x509 this was ~15% of the operator's CPU in the issuance benchmark).
 */
export async function buildCsr(key: KeyObject, req: CsrRequest): Promise<string> {
  if (key.type !== 'private') throw new Error('buildCsr needs a private key');
  validateNames(req);
  const alg = signatureAlgorithmFor(key);
  if (!alg) throw new Error(`cannot sign a CSR with a ${describeKey(key).algorithm} key: use ECDSA, RSA or Ed25519`);
  const usages = resolveUsages(req.usages, { keyAlgorithm: describeKey(key).algorithm, isCA: req.isCA });
  const nameDer = Buffer.from(buildName(req.subject));
  const emptySubject = nameDer.byteLength === 2;
  const san = encodeSan(req);
  const extensions: Buffer[] = [];
  // RFC 5280 4.2.1.6: with an empty subject the SAN extension is critical.
  if (san) extensions.push(encodeExtension(OIDS.san, emptySubject, san));
  extensions.push(encodeExtension(OIDS.keyUsage, true, keyUsageValue(usages.keyUsage)));
  if (usages.extKeyUsage.length > 0)
    extensions.push(encodeExtension(OIDS.extKeyUsage, false, extKeyUsageValue(usages.extKeyUsage)));
  extensions.push(encodeExtension(OIDS.basicConstraints, true, basicConstraintsValue(req.isCA)));
  const extensionRequest = tlv(
    TAG.SEQUENCE,
    encodeOid(EXTENSION_REQUEST_OID),
    tlv(TAG.SET, tlv(TAG.SEQUENCE, ...extensions)),
  );
  const publicKey = createPublicKey(key);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const info = tlv(TAG.SEQUENCE, VERSION_1, nameDer, spki, tlv(ATTRIBUTES_TAG, extensionRequest));
  const signature = sign(alg.hash, info, key); // ECDSA signatures come DER-encoded (node's default)
  const der = tlv(TAG.SEQUENCE, info, alg.algorithmDer, tlv(TAG.BIT_STRING, Buffer.from([0]), signature));
  const pem = toPem(der, 'CERTIFICATE REQUEST');
  if (ownCsrs.size >= MAX_OWN_CSRS) ownCsrs.delete(ownCsrs.keys().next().value ?? '');
  ownCsrs.set(pem, publicKey);
  return pem;
}

/**
 * CSRs this process has just built and signed, by their exact PEM, with their public key. An in-process CA
 * reading one back (the ca and selfSigned backends) knows its self-signature is good without verifying it
 * again: the bytes are the ones signed here. Bounded (a CSR sent to an outside CA is never read back here);
 * an entry is taken once.
 */
const ownCsrs = new Map<string, KeyObject>();
const MAX_OWN_CSRS = 1024;

/** The public key of a CSR built by buildCsr in this process, once; undefined for any other CSR. */
export function takeOwnCsrKey(pem: string): KeyObject | undefined {
  const key = ownCsrs.get(pem);
  if (key) ownCsrs.delete(pem);
  return key;
}

const VERSION_1 = Buffer.from([TAG.INTEGER, 0x01, 0x00]);
const ATTRIBUTES_TAG = 0xa0; // [0] IMPLICIT SET OF Attribute

/** Parses a PEM PKCS#10 request; throws a clean Error for anything that is not one. */
export function parseCsr(pem: string): CsrFacts {
  const der = firstCsrDer(pem);
  try {
    return csrFacts(der);
  } catch (e) {
    throw new Error(`invalid CSR: ${e instanceof DerError ? e.message : (errorCode(e) ?? 'unreadable content')}`);
  }
}

function requestsCA(bc: RawExtension | undefined): boolean {
  if (!bc) return false;
  const decoded = decodeBasicConstraints(bc.value);
  if (!decoded) throw new DerError('malformed basicConstraints');
  return decoded.ca;
}

function csrFacts(der: Buffer): CsrFacts {
  const o = csrOutline(der);
  const publicKey = createPublicKey({ key: o.spki, format: 'der', type: 'spki' });
  const name = parseName(o.subject);
  const san = o.extensions.get(OIDS.san);
  const ku = o.extensions.get(OIDS.keyUsage);
  const eku = o.extensions.get(OIDS.extKeyUsage);
  const bc = o.extensions.get(OIDS.basicConstraints);
  return {
    publicKey,
    subject: name.fields,
    subjectDN: name.dn,
    ...(san ? parseSan(san.value) : { dnsNames: [], ipAddresses: [], uris: [], emailAddresses: [] }),
    keyUsage: ku ? keyUsageNames(decodeKeyUsage(ku.value)) : [],
    extKeyUsage: eku ? extKeyUsageNames(decodeOidList(eku.value)) : [],
    isCA: requestsCA(bc),
    signatureValid: verifyWith(o.signatureAlgorithm, o.info, o.signature, publicKey),
  };
}
