// PKCS#10 certificate requests: built with @peculiar/x509 from a node:crypto key, read back with a
// DER walk and verified synchronously with node:crypto.
import { createPublicKey, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { x509 } from './x509.ts';
import { children, csrOutline, DerError, encodeOid, readOid, readTlv, TAG, tlv } from './der.ts';
import { basicConstraintsValue, encodeExtension, extKeyUsageValue, keyUsageValue, signatureAlgorithmFor } from './certificate.ts';
import { describeKey } from './keys.ts';
import { buildName, encodeSan, ipBytes, parseName, parseSan } from './names.ts';
import type { SanLists, SubjectFields, SubjectInput } from './names.ts';
import { decodeKeyUsage, extKeyUsageNames, keyUsageNames, resolveUsages } from './usages.ts';
import { pemBlocks, toPem } from './pem.ts';
import { verifyWith } from './signatures.ts';

export type { SubjectFields, SubjectInput } from './names.ts';

export interface CsrRequest {
  subject?: SubjectInput | undefined;
  dnsNames?: readonly string[] | undefined;
  ipAddresses?: readonly string[] | undefined;
  uris?: readonly string[] | undefined;
  emailAddresses?: readonly string[] | undefined;
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
  san: '2.5.29.17', keyUsage: '2.5.29.15', extKeyUsage: '2.5.29.37', basicConstraints: '2.5.29.19',
} as const;

interface Signer {
  importAlg: Parameters<KeyObject['toCryptoKey']>[0];
  signAlg: Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['signingAlgorithm'];
}

/** WebCrypto parameters for each key type: ECDSA hash by curve, RSA PKCS#1 v1.5 with SHA-256, Ed25519. */
export function signerFor(key: KeyObject): Signer {
  const d = describeKey(key);
  switch (d.algorithm) {
    case 'ECDSA': {
      const curve = { 256: 'P-256', 384: 'P-384', 521: 'P-521' }[d.size ?? 0];
      const hash = { 256: 'SHA-256', 384: 'SHA-384', 521: 'SHA-512' }[d.size ?? 0];
      if (!curve || !hash) throw new Error(`unsupported EC curve ${d.curve ?? 'unknown'}: use P-256, P-384 or P-521`);
      return { importAlg: { name: 'ECDSA', namedCurve: curve }, signAlg: { name: 'ECDSA', hash } as EcdsaParamsLike };
    }
    case 'RSA':
      return {
        importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
        signAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as AlgorithmLike,
      };
    case 'Ed25519':
      return { importAlg: { name: 'Ed25519' }, signAlg: { name: 'Ed25519' } };
    default:
      throw new Error(`cannot sign a CSR with a ${d.algorithm} key: use ECDSA, RSA or Ed25519`);
  }
}
type EcdsaParamsLike = { name: string; hash: string };
type AlgorithmLike = { name: string; hash: string };

function validateNames(req: CsrRequest): void {
  for (const ip of req.ipAddresses ?? []) ipBytes(ip);
  for (const [what, list] of [['DNS name', req.dnsNames], ['URI', req.uris], ['e-mail address', req.emailAddresses]] as const) {
    for (const v of list ?? []) {
      // IA5String: ASCII only (internationalised names must be given in their ASCII form).
      if (v === '' || !/^[\x21-\x7e]+$/.test(v)) throw new Error(`invalid ${what} ${JSON.stringify(v)}: must be non-empty printable ASCII`);
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
  if (usages.extKeyUsage.length > 0) extensions.push(encodeExtension(OIDS.extKeyUsage, false, extKeyUsageValue(usages.extKeyUsage)));
  extensions.push(encodeExtension(OIDS.basicConstraints, true, basicConstraintsValue(req.isCA)));
  const extensionRequest = tlv(TAG.SEQUENCE, encodeOid(EXTENSION_REQUEST_OID), tlv(TAG.SET, tlv(TAG.SEQUENCE, ...extensions)));
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const info = tlv(TAG.SEQUENCE, VERSION_1, nameDer, spki, tlv(ATTRIBUTES_TAG, extensionRequest));
  const signature = sign(alg.hash, info, key); // ECDSA signatures come DER-encoded (node's default)
  const der = tlv(TAG.SEQUENCE, info, alg.algorithmDer, tlv(TAG.BIT_STRING, Buffer.from([0]), signature));
  return toPem(der, 'CERTIFICATE REQUEST');
}

const EXTENSION_REQUEST_OID = '1.2.840.113549.1.9.14';
const VERSION_1 = Buffer.from([TAG.INTEGER, 0x01, 0x00]);
const ATTRIBUTES_TAG = 0xa0; // [0] IMPLICIT SET OF Attribute

/** Parses a PEM PKCS#10 request; throws a clean Error for anything that is not one. */
export function parseCsr(pem: string): CsrFacts {
  const blocks = pemBlocks(pem, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
  if (blocks.length === 0) throw new Error('no CERTIFICATE REQUEST PEM block found');
  try {
    return csrFacts(blocks[0]!);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new Error(`invalid CSR: ${e instanceof DerError ? e.message : typeof code === 'string' ? code : 'unreadable content'}`);
  }
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
    isCA: bc ? decodeBasicConstraints(bc.value).ca : false,
    signatureValid: verifyWith(o.signatureAlgorithm, o.info, o.signature, publicKey),
  };
}

/** ExtKeyUsageSyntax ::= SEQUENCE OF KeyPurposeId */
export function decodeOidList(der: Uint8Array): string[] {
  const seq = readTlv(der, 0);
  if (seq.tag !== TAG.SEQUENCE || seq.end !== der.length) throw new DerError('malformed extendedKeyUsage');
  return children(der, seq).map((t) => readOid(der, t));
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL } */
export function decodeBasicConstraints(der: Uint8Array): { ca: boolean; pathLen?: number } {
  const seq = readTlv(der, 0);
  if (seq.tag !== TAG.SEQUENCE || seq.end !== der.length) throw new DerError('malformed basicConstraints');
  let ca = false;
  let pathLen: number | undefined;
  for (const t of children(der, seq)) {
    if (t.tag === TAG.BOOLEAN) ca = der[t.contentStart] !== 0;
    else if (t.tag === TAG.INTEGER && t.end - t.contentStart <= 4) {
      pathLen = 0;
      for (let i = t.contentStart; i < t.end; i++) pathLen = pathLen * 256 + der[i]!;
    }
  }
  return pathLen === undefined ? { ca } : { ca, pathLen };
}
