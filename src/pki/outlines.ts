// Outlines of certificates and CSRs: the parts Node's X509Certificate does not expose (exact names,
// SPKI, signature algorithm, extensions by OID), found by a bounds-checked DER walk of a few µs
// (asn1js took ~250 µs a certificate, which matters for the inventory).
import { bitString, children, content, DerError, expect, readAlgorithm, readOid, TAG, whole } from './der.ts';
import type { AlgorithmId, Tlv } from './der.ts';

export interface RawExtension {
  critical: boolean;
  value: Buffer;
}

/** Reads `Extensions ::= SEQUENCE OF Extension` into a map by OID; duplicates are an error (RFC 5280 4.2). */
function readExtensions(buf: Uint8Array, seq: Tlv): Map<string, RawExtension> {
  if (seq.tag !== TAG.SEQUENCE) throw new DerError('expected a SEQUENCE of extensions');
  const out = new Map<string, RawExtension>();
  for (const ext of children(buf, seq)) {
    const [oid, e] = readExtension(buf, ext);
    if (out.has(oid)) throw new DerError(`duplicate extension ${oid}`);
    out.set(oid, e);
  }
  return out;
}

/** Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
function readExtension(buf: Uint8Array, ext: Tlv): [string, RawExtension] {
  if (ext.tag !== TAG.SEQUENCE) throw new DerError('expected an Extension');
  const parts = children(buf, ext);
  const oid = readOid(buf, parts[0] ?? fail('empty Extension'));
  const flag = parts[1]?.tag === TAG.BOOLEAN ? parts[1] : undefined;
  const critical = flag ? content(buf, flag)[0] !== 0 : false;
  const i = flag ? 2 : 1;
  const value = parts[i];
  if (!value || value.tag !== TAG.OCTET_STRING || parts.length !== i + 1)
    throw new DerError(`malformed extension ${oid}`);
  return [oid, { critical, value: content(buf, value) }];
}

function fail(msg: string): never {
  throw new DerError(msg);
}

export interface CertificateOutline {
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  spki: Buffer;
  signatureAlgorithm: AlgorithmId;
  extensions: Map<string, RawExtension>;
}

/** Finds the parts of a Certificate (RFC 5280 4.1) that Node's X509Certificate does not expose. */
export function certificateOutline(der: Uint8Array): CertificateOutline {
  const cert = expect(der, 0, TAG.SEQUENCE, der.length, 'Certificate');
  if (cert.end !== der.length) throw new DerError('trailing data after the certificate');
  const [tbs, sigAlg] = children(der, cert);
  const tbsEl = need(tbs, 'Certificate', TAG.SEQUENCE);
  const algorithm = need(sigAlg, 'Certificate');
  const parts = children(der, tbsEl);
  const version = parts[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
  // serial, inner signature algorithm, issuer, validity, subject, subjectPublicKeyInfo, then [1] [2] [3]
  const [serial, , issuer, , subject, spki, ...rest] = parts.slice(version);
  const what = 'TBSCertificate';
  const fields = {
    serial: content(der, need(serial, what, TAG.INTEGER)),
    issuer: whole(der, need(issuer, what)),
    subject: whole(der, need(subject, what)),
    spki: whole(der, need(spki, what)),
  };
  const extensions = tbsExtensions(der, rest);
  return { ...fields, signatureAlgorithm: readAlgorithm(der, algorithm), extensions };
}

/** The [3] extensions of a TBSCertificate among its optional trailing fields; empty without them. */
function tbsExtensions(der: Uint8Array, optional: readonly Tlv[]): Map<string, RawExtension> {
  let extensions = new Map<string, RawExtension>();
  for (const p of optional) {
    const [seq] = p.tag === 0xa3 ? children(der, p) : [];
    if (seq) extensions = readExtensions(der, seq);
  }
  return extensions;
}

/** A child element that must be present (with `tag`, when given); otherwise `what` is malformed. */
function need(t: Tlv | undefined, what: string, tag?: number): Tlv {
  if (!t || (tag !== undefined && t.tag !== tag)) throw new DerError(`malformed ${what}`);
  return t;
}

export interface CsrOutline {
  info: Buffer;
  subject: Buffer;
  spki: Buffer;
  signatureAlgorithm: AlgorithmId;
  signature: Buffer;
  extensions: Map<string, RawExtension>;
}

/** PKCS#9 extensionRequest: the attribute a CSR asks for extensions with. */
export const EXTENSION_REQUEST_OID = '1.2.840.113549.1.9.14';

/** The extensionRequest attribute (PKCS#9) among the CSR's [0] attributes; empty when absent. */
function requestedExtensions(der: Uint8Array, attrs: Tlv): Map<string, RawExtension> {
  if (attrs.tag !== 0xa0) throw new DerError('malformed CSR attributes');
  for (const attr of children(der, attrs)) {
    const [type, values] = children(der, attr);
    if (!type || !values || values.tag !== TAG.SET) throw new DerError('malformed CSR attribute');
    if (readOid(der, type) !== EXTENSION_REQUEST_OID) continue;
    const [first] = children(der, values);
    if (first) return readExtensions(der, first);
  }
  return new Map();
}

/** Reads a PKCS#10 CertificationRequest (RFC 2986). */
export function csrOutline(der: Uint8Array): CsrOutline {
  const req = expect(der, 0, TAG.SEQUENCE, der.length, 'CertificationRequest');
  if (req.end !== der.length) throw new DerError('trailing data after the CSR');
  const [info, sigAlg, sig] = children(der, req);
  const outer = 'CertificationRequest';
  const infoEl = need(info, outer, TAG.SEQUENCE);
  const [algorithm, signature] = [need(sigAlg, outer), need(sig, outer)];
  const [version, subject, spki, attrs] = children(der, infoEl);
  const what = 'CertificationRequestInfo';
  need(version, what, TAG.INTEGER);
  const [subjectEl, spkiEl] = [need(subject, what, TAG.SEQUENCE), need(spki, what, TAG.SEQUENCE)];
  const extensions = attrs ? requestedExtensions(der, attrs) : new Map<string, RawExtension>();
  const { bytes, unused } = bitString(der, signature);
  if (unused !== 0) throw new DerError('signature BIT STRING has unused bits');
  return {
    info: whole(der, infoEl),
    subject: whole(der, subjectEl),
    spki: whole(der, spkiEl),
    signatureAlgorithm: readAlgorithm(der, algorithm),
    signature: bytes,
    extensions,
  };
}
