// PKCS#10 certificate requests: built with @peculiar/x509 from a node:crypto key, read back with a
// DER walk and verified synchronously with node:crypto.
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { x509 } from './x509.ts';
import { children, csrOutline, DerError, readOid, readTlv, TAG } from './der.ts';
import { describeKey } from './keys.ts';
import { buildName, encodeSan, ipBytes, parseName, parseSan } from './names.ts';
import type { SanLists, SubjectFields, SubjectInput } from './names.ts';
import { decodeKeyUsage, extKeyUsageNames, keyUsageNames, resolveUsages } from './usages.ts';
import { pemBlocks } from './pem.ts';
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

/** Builds a PEM PKCS#10 request with an extensionRequest for SAN, keyUsage, extendedKeyUsage and basicConstraints. */
export async function buildCsr(key: KeyObject, req: CsrRequest): Promise<string> {
  if (key.type !== 'private') throw new Error('buildCsr needs a private key');
  validateNames(req);
  const signer = signerFor(key);
  const usages = resolveUsages(req.usages, { keyAlgorithm: describeKey(key).algorithm, isCA: req.isCA });
  const nameDer = buildName(req.subject);
  const emptySubject = nameDer.byteLength === 2;
  // Encoded here: @peculiar/x509 2.2 mis-encodes IPv4-mapped IPv6 addresses (::ffff:1.2.3.4 became ::ffff:1).
  const san = encodeSan(req);
  const extensions: x509.Extension[] = [];
  // RFC 5280 4.2.1.6: with an empty subject the SAN extension is critical.
  if (san) extensions.push(new x509.Extension(OIDS.san, emptySubject, san));
  extensions.push(new x509.KeyUsagesExtension(usages.keyUsage as x509.KeyUsageFlags, true));
  if (usages.extKeyUsage.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(usages.extKeyUsage, false));
  extensions.push(new x509.BasicConstraintsExtension(req.isCA, undefined, true));
  const keys = {
    privateKey: key.toCryptoKey(signer.importAlg, false, ['sign']),
    publicKey: createPublicKey(key).toCryptoKey(signer.importAlg, true, ['verify']),
  } as unknown as CryptoKeyPairLike;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: new x509.Name(nameDer), keys, signingAlgorithm: signer.signAlg, extensions,
  });
  return csr.toString('pem');
}
type CryptoKeyPairLike = Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'];

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
