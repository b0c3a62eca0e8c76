// PKCS#12 (RFC 7292) keystores and truststores for every key type, in one implementation:
// cert-manager's "Modern2023" profile.
//  - the key: PKCS8ShroudedKeyBag, PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC), in a Data safe;
//  - the certificates: CertBags in an EncryptedData safe, same PBES2 parameters;
//  - integrity: MAC HMAC-SHA-256 over the AuthenticatedSafe, key from the RFC 7292 appendix B KDF.
// Iterations: 10000 for PBKDF2 and the MAC, the values Java's own keytool writes (JDK 12+ and 8u301+
// `keystore.pkcs12.*IterationCount`); OpenSSL's 2048 is the RFC's floor. With the operator's random
// passwords the count hardly matters; with a weak human password 10000 costs an attacker ~5x more
// than 2048, while building a store stays a few milliseconds (measured in the tests).
// Passwords: UTF-8 bytes for PBKDF2 (what OpenSSL 3 and Java do for PBES2), BMPString (UTF-16BE plus
// a 00 00 terminator) for the MAC KDF, as RFC 7292 B.1 says. ASCII passwords behave the same everywhere.
import { createCipheriv, createHash, createHmac, hash, pbkdf2Sync, randomBytes, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  AuthenticatedSafe,
  CertBag,
  id_certBag,
  id_pkcs8ShroudedKeyBag,
  id_x509Certificate,
  MacData,
  PFX,
  PKCS12Attribute,
  PKCS8ShroudedKeyBag,
  SafeBag,
  SafeContents,
} from '@peculiar/asn1-pfx';
import { EncryptedData as Pkcs8EncryptedData } from '@peculiar/asn1-pkcs8';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, DirectoryString } from '@peculiar/asn1-x509';
import { encodeOid } from './der.ts';
import {
  CmsEncryptedData,
  ContentInfo,
  EncryptedContentInfo,
  Pbes2Params,
  Pbkdf2Params,
  PKCS12_OIDS,
} from './pkcs12-asn1.ts';
import { samePublicKey } from './keys.ts';
import { pemBlocks } from './pem.ts';

export const PKCS12_ITERATIONS = 10_000;
const SALT_BYTES = 16;

const OID = PKCS12_OIDS;

// ---- helpers -----------------------------------------------------------------------------------

function ab(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

function der(value: object): Buffer {
  return Buffer.from(AsnConvert.serialize(value));
}

/** PBES2 encryption: returns the AlgorithmIdentifier (with fresh salt and IV) and the ciphertext. */
function pbes2Encrypt(plain: Buffer, password: string, iterations: number): { alg: AlgorithmIdentifier; data: Buffer } {
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const data = Buffer.concat([cipher.update(plain), cipher.final()]);
  const params = new Pbes2Params({
    keyDerivationFunc: new AlgorithmIdentifier({
      algorithm: OID.pbkdf2,
      parameters: ab(
        der(
          new Pbkdf2Params({
            salt: ab(salt),
            iterationCount: iterations,
            prf: new AlgorithmIdentifier({ algorithm: OID.hmacWithSHA256, parameters: null }),
          }),
        ),
      ),
    }),
    encryptionScheme: new AlgorithmIdentifier({ algorithm: OID.aes256CBC, parameters: ab(der(new OctetString(iv))) }),
  });
  return { alg: new AlgorithmIdentifier({ algorithm: OID.pbes2, parameters: ab(der(params)) }), data };
}

/** RFC 7292 appendix B.2 key derivation with SHA-256 (u = 32, v = 64). */
function pkcs12Kdf(password: Buffer, salt: Buffer, id: number, iterations: number, length: number): Buffer {
  const u = 32,
    v = 64;
  const stretch = (src: Buffer): Buffer => {
    if (src.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src.readUInt8(i % src.length);
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([stretch(salt), stretch(password)]);
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let A = hash('sha256', Buffer.concat([D, I]), 'buffer');
    // one-shot hash(): ~1 µs per round, half of createHash()'s cost; this loop is most of a build's time
    for (let r = 1; r < iterations; r++) A = hash('sha256', A, 'buffer');
    blocks.push(A);
    if (produced + u >= length) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block of I, B = A repeated to v bytes.
    const B = stretch(A);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I.readUInt8(j + k) + B.readUInt8(k) + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** The password as a BMPString with its two-byte terminator (RFC 7292 B.1). */
function bmpPassword(password: string): Buffer {
  return Buffer.concat([Buffer.from(password, 'utf16le').swap16(), Buffer.alloc(2)]);
}

function attribute(oid: string, value: Buffer): PKCS12Attribute {
  // PKCS12Attribute's constructor ignores its argument (asn1-pfx 2.11.1), so set the fields.
  const a = new PKCS12Attribute();
  a.attrId = oid;
  a.attrValues = [ab(value)];
  return a;
}

const friendlyName = (name: string): PKCS12Attribute =>
  attribute(OID.friendlyName, der(new DirectoryString({ bmpString: name })));

function certBag(certDer: Buffer, attrs: PKCS12Attribute[]): SafeBag {
  const bag = new CertBag({ certId: id_x509Certificate, certValue: ab(der(new OctetString(certDer))) });
  return new SafeBag({ bagId: id_certBag, bagValue: ab(der(bag)), ...(attrs.length ? { bagAttributes: attrs } : {}) });
}

function encryptedSafe(bags: SafeBag[], password: string, iterations: number): ContentInfo {
  const { alg, data } = pbes2Encrypt(der(new SafeContents(bags)), password, iterations);
  const ed = new CmsEncryptedData({
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: OID.data,
      contentEncryptionAlgorithm: alg,
      encryptedContent: ab(data),
    }),
  });
  return new ContentInfo({ contentType: OID.encryptedData, content: ab(der(ed)) });
}

function dataSafe(bags: SafeBag[]): ContentInfo {
  return new ContentInfo({ contentType: OID.data, content: ab(der(new OctetString(der(new SafeContents(bags))))) });
}

function pfx(safes: ContentInfo[], password: string, iterations: number): Buffer {
  const authSafe = der(new AuthenticatedSafe(safes as never[]));
  const macSalt = randomBytes(SALT_BYTES);
  const macKey = pkcs12Kdf(bmpPassword(password), macSalt, 3, iterations, 32);
  const macData = new MacData();
  macData.mac.digestAlgorithm = new AlgorithmIdentifier({ algorithm: OID.sha256, parameters: null });
  macData.mac.digest = new OctetString(createHmac('sha256', macKey).update(authSafe).digest());
  macData.macSalt = new OctetString(macSalt);
  macData.iterations = iterations;
  const p = new PFX({
    version: 3,
    authSafe: new ContentInfo({ contentType: OID.data, content: ab(der(new OctetString(authSafe))) }) as never,
    macData,
  });
  return der(p);
}

function certificatesIn(pems: readonly string[], what: string): Buffer[] {
  const out: Buffer[] = [];
  for (const pem of pems) {
    const ders = pemBlocks(pem, ['CERTIFICATE']);
    if (ders.length === 0) throw new Error(`${what}: no CERTIFICATE PEM block found`);
    for (const d of ders) {
      try {
        new X509Certificate(d);
      } catch {
        throw new Error(`${what}: not a parsable X.509 certificate`);
      }
      out.push(d);
    }
  }
  return out;
}

function checkOptions(password: string, iterations: number): void {
  if (typeof password !== 'string') throw new TypeError('the keystore password must be a string');
  if (password.length > 1024) throw new Error('the keystore password is longer than 1024 characters');
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 1_000_000)
    throw new RangeError('iterations must be an integer from 1 to 1000000');
}

export interface KeystoreInput {
  key: KeyObject;
  /** The leaf certificate (PEM) for `key`. */
  certificatePem: string;
  /** Certificates above the leaf, leaf-first (PEM each; a bundle per item is fine). */
  chainPem: readonly string[];
  password: string;
  /** Alias of the key entry (friendlyName); default "certificate". */
  friendlyName?: string;
  /** PBKDF2 and MAC iteration count; default PKCS12_ITERATIONS. */
  iterations?: number;
}

/**
 * A PKCS#12 keystore with one private key entry: the key (RSA, ECDSA or Ed25519) and its chain,
 * linked by localKeyId (SHA-1 of the leaf's DER, as OpenSSL does) and named by friendlyName.
 */
export function buildKeystore(input: KeystoreInput): Buffer {
  const { key, password } = input;
  const iterations = input.iterations ?? PKCS12_ITERATIONS;
  checkOptions(password, iterations);
  if (key?.type !== 'private') throw new Error('buildKeystore needs a private key');
  const [leaf, ...extra] = certificatesIn([input.certificatePem], 'certificatePem');
  if (!leaf) throw new Error('certificatePem: no certificate');
  if (!samePublicKey(new X509Certificate(leaf).publicKey, key))
    throw new Error('certificatePem does not match the private key');
  const chain = [...extra, ...certificatesIn(input.chainPem, 'chainPem')];
  const localKeyId = attribute(OID.localKeyId, der(new OctetString(createHash('sha1').update(leaf).digest())));
  const name = friendlyName(input.friendlyName ?? 'certificate');

  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const enc = pbes2Encrypt(pkcs8, password, iterations);
  const shrouded = new PKCS8ShroudedKeyBag({
    encryptionAlgorithm: enc.alg,
    encryptedData: new Pkcs8EncryptedData(enc.data),
  });
  const keyBag = new SafeBag({
    bagId: id_pkcs8ShroudedKeyBag,
    bagValue: ab(der(shrouded)),
    bagAttributes: [name, localKeyId],
  });

  const certs = [certBag(leaf, [name, localKeyId]), ...chain.map((c) => certBag(c, []))];
  return pfx([encryptedSafe(certs, password, iterations), dataSafe([keyBag])], password, iterations);
}

export interface TruststoreInput {
  /** CA certificates (PEM each; bundles are split). Duplicates are dropped. */
  caPems: readonly string[];
  password: string;
  iterations?: number;
}

/**
 * A PKCS#12 truststore: every CA certificate as a cert bag with Oracle's trusted-key-usage attribute
 * (anyExtendedKeyUsage), which Java needs to list it as a trustedCertEntry. Aliases: "ca", "ca-1", ...
 */
export function buildTruststore(input: TruststoreInput): Buffer {
  const iterations = input.iterations ?? PKCS12_ITERATIONS;
  checkOptions(input.password, iterations);
  const seen = new Set<string>();
  const cas = certificatesIn(input.caPems, 'caPems').filter((d) => {
    const h = createHash('sha256').update(d).digest('hex');
    return seen.has(h) ? false : (seen.add(h), true);
  });
  if (cas.length === 0) throw new Error('caPems: no CA certificate');
  const trusted = attribute(OID.oracleTrustedKeyUsage, encodeOid(OID.anyExtendedKeyUsage));
  const bags = cas.map((d, i) => certBag(d, [friendlyName(i === 0 ? 'ca' : `ca-${i}`), trusted]));
  return pfx([encryptedSafe(bags, input.password, iterations)], input.password, iterations);
}
