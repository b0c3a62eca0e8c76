// Reading the certificates out of a PKCS#12 file (RFC 7292) for the inventory. Cert safes may be
// plain (Data) or password-encrypted (EncryptedData with PBES2: PBKDF2 + AES-CBC, what OpenSSL 3, Java
// 12+ and our own writer produce). The legacy PKCS#12 PBE schemes (3DES, RC2-40) are refused with
// a reason: RC2 is not in OpenSSL 3's default provider, and those files are worth flagging anyway.
import { createDecipheriv, pbkdf2Sync } from 'node:crypto';
import { AuthenticatedSafe, CertBag, id_certBag, id_x509Certificate, PFX, SafeContents } from '@peculiar/asn1-pfx';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { CmsEncryptedData, Pbes2Params, Pbkdf2Params, PKCS12_OIDS, type ContentInfo } from './pkcs12-asn1.ts';

const OID = PKCS12_OIDS;
const PRF: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
const CIPHER: Record<string, { name: string; keyLength: number }> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLength: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLength: 24 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLength: 32 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLength: 24 },
};
/** More iterations than this in one place is a denial of service, not a keystore. */
const MAX_ITERATIONS = 1_000_000;

class Pkcs12Error extends Error {}
/** The file is over a reading budget (checked before any key is derived). */
export class Pkcs12BudgetError extends Pkcs12Error {}

/**
 * What one PKCS#12 file may cost to read. Key derivation is the expensive part: the iterations of
 * every encrypted safe and of the MAC are summed and checked before anything is derived, so that a
 * small file with many encrypted sections cannot buy seconds of CPU.
 */
export interface Pkcs12Budget {
  /** ContentInfos in the AuthenticatedSafe. */
  maxSections: number;
  /** SafeBags over all sections. */
  maxBags: number;
  /** PBKDF2 iterations summed over the MAC and every encrypted section. */
  maxIterations: number;
}
export const DEFAULT_PKCS12_BUDGET: Pkcs12Budget = { maxSections: 16, maxBags: 256, maxIterations: 1_000_000 };

/** An algorithm's parameters, which PBES2 and PBKDF2 require. */
function paramsOf(alg: { parameters?: ArrayBuffer | null }): ArrayBuffer {
  if (!alg.parameters) throw new Pkcs12Error('PKCS#12 algorithm without its parameters');
  return alg.parameters;
}

interface Pbes2 {
  p: Pbes2Params;
  kdf: Pbkdf2Params;
  prf: string;
  cipher: { name: string; keyLength: number };
}

/** The PBES2 parameters of an encrypted safe, validated; no key derived yet. */
function pbes2Params(params: ArrayBuffer): Pbes2 {
  const p = AsnConvert.parse(params, Pbes2Params);
  if (p.keyDerivationFunc.algorithm !== OID.pbkdf2) throw new Pkcs12Error('unsupported key derivation in PKCS#12');
  const kdf = AsnConvert.parse(paramsOf(p.keyDerivationFunc), Pbkdf2Params);
  const prf = PRF[kdf.prf?.algorithm ?? '1.2.840.113549.2.7'];
  const cipher = CIPHER[p.encryptionScheme.algorithm];
  if (!prf || !cipher) throw new Pkcs12Error('unsupported PBES2 algorithm in PKCS#12');
  if (!Number.isSafeInteger(kdf.iterationCount) || kdf.iterationCount < 1)
    throw new Pkcs12Error('invalid PKCS#12 iteration count');
  if (kdf.iterationCount > MAX_ITERATIONS)
    throw new Pkcs12BudgetError(`PKCS#12 iteration count ${kdf.iterationCount} over ${MAX_ITERATIONS}`);
  return { p, kdf, prf, cipher };
}

function decryptPbes2({ p, kdf, prf, cipher }: Pbes2, data: ArrayBuffer, password: string): Buffer {
  const iv = Buffer.from(AsnConvert.parse(paramsOf(p.encryptionScheme), OctetString).buffer);
  const key = pbkdf2Sync(
    Buffer.from(password, 'utf8'),
    Buffer.from(kdf.salt),
    kdf.iterationCount,
    cipher.keyLength,
    prf,
  );
  try {
    const d = createDecipheriv(cipher.name, key, iv);
    return Buffer.concat([d.update(Buffer.from(data)), d.final()]);
  } catch {
    throw new Pkcs12Error('wrong PKCS#12 password');
  }
}

/** A section as read before any derivation: plain bags, or the parameters and ciphertext of an encrypted one. */
type Section = { bags: SafeContents } | { enc: Pbes2; data: ArrayBuffer };

function section(ci: ContentInfo, password: string | undefined): Section {
  if (ci.contentType === OID.data)
    return { bags: AsnConvert.parse(AsnConvert.parse(ci.content, OctetString).buffer, SafeContents) };
  if (ci.contentType !== OID.encryptedData) throw new Pkcs12Error('unsupported PKCS#12 safe');
  const ed = AsnConvert.parse(ci.content, CmsEncryptedData).encryptedContentInfo;
  if (ed.contentEncryptionAlgorithm.algorithm !== OID.pbes2)
    throw new Pkcs12Error('legacy PKCS#12 encryption (3DES/RC2): not read');
  if (password === undefined) throw new Pkcs12Error('PKCS#12 password unknown');
  return { enc: pbes2Params(paramsOf(ed.contentEncryptionAlgorithm)), data: ed.encryptedContent };
}

/** Every section's parameters, with the summed KDF iterations checked against the budget before any derivation. */
function sections(pfx: PFX, safes: ContentInfo[], password: string | undefined, budget: Pkcs12Budget): Section[] {
  if (safes.length > budget.maxSections)
    throw new Pkcs12BudgetError(`PKCS#12 with ${safes.length} sections, over ${budget.maxSections}`);
  const out = safes.map((ci) => section(ci, password));
  // the MAC is not verified here (certificates are public), but its declared cost counts: a reader that does verify pays it
  let iterations = pfx.macData?.iterations ?? 0;
  for (const s of out) if ('enc' in s) iterations += s.enc.kdf.iterationCount;
  if (iterations > budget.maxIterations)
    throw new Pkcs12BudgetError(
      `PKCS#12 key derivation of ${iterations} iterations in all, over ${budget.maxIterations}`,
    );
  return out;
}

/** DER of every X.509 certificate in the PFX; throws Pkcs12Error (Pkcs12BudgetError over the budget) or an ASN.1 error when it cannot. */
export function pkcs12Certificates(
  pfxDer: Uint8Array,
  password: string | undefined,
  budget: Pkcs12Budget = DEFAULT_PKCS12_BUDGET,
): Buffer[] {
  const pfx = AsnConvert.parse(pfxDer, PFX);
  const authSafe = pfx.authSafe as unknown as ContentInfo;
  if (authSafe.contentType !== OID.data) throw new Pkcs12Error('PKCS#12 with public-key integrity: not read');
  const safes = AsnConvert.parse(
    AsnConvert.parse(authSafe.content, OctetString).buffer,
    AuthenticatedSafe,
  ) as unknown as ContentInfo[];
  const out: Buffer[] = [];
  let bags = 0;
  for (const s of sections(pfx, safes, password, budget)) {
    const contents = 'bags' in s ? s.bags : AsnConvert.parse(decryptPbes2(s.enc, s.data, password ?? ''), SafeContents);
    bags += contents.length;
    if (bags > budget.maxBags) throw new Pkcs12BudgetError(`PKCS#12 with more than ${budget.maxBags} bags`);
    for (const bag of contents) {
      if (bag.bagId !== id_certBag) continue;
      const cb = AsnConvert.parse(bag.bagValue, CertBag);
      if (cb.certId !== id_x509Certificate) continue;
      out.push(Buffer.from(AsnConvert.parse(cb.certValue, OctetString).buffer));
      if (out.length > 100) throw new Pkcs12Error('more than 100 certificates in PKCS#12');
    }
  }
  return out;
}

/** A PFX starts SEQUENCE { INTEGER 3, ... }: cheap sniffing before a full parse. */
export function looksLikePkcs12(b: Uint8Array): boolean {
  if (b.length < 8 || b[0] !== 0x30) return false;
  const first = b[1] ?? 0;
  const lenBytes = first & 0x80 ? first & 0x7f : 0;
  const i = 2 + lenBytes;
  return b[i] === 0x02 && b[i + 1] === 0x01 && b[i + 2] === 0x03;
}
