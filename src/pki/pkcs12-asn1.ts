// The ASN.1 pieces of PKCS#12 (RFC 7292) and PBES2 (RFC 8018) shared by the writer (pkcs12.ts) and
// the reader (pkcs12-read.ts): their OIDs, and the types asn1-pfx takes from packages this project
// does not depend on directly (decorators applied as plain calls: Node's type stripping has no
// decorator syntax).
import { AsnProp, AsnPropTypes } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';

export const PKCS12_OIDS = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSHA256: '1.2.840.113549.2.9',
  aes256CBC: '2.16.840.1.101.3.4.1.42',
  sha256: '2.16.840.1.101.3.4.2.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  /** Oracle's "trusted key usage" attribute: Java lists a cert bag carrying it as a trustedCertEntry. */
  oracleTrustedKeyUsage: '2.16.840.1.113894.746875.1.1',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

/** CMS ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY } */
export class ContentInfo {
  contentType = '';
  content: ArrayBuffer = new ArrayBuffer(0);
  constructor(p: Partial<ContentInfo> = {}) {
    Object.assign(this, p);
  }
}
AsnProp({ type: AsnPropTypes.ObjectIdentifier })(ContentInfo.prototype, 'contentType');
AsnProp({ type: AsnPropTypes.Any, context: 0 })(ContentInfo.prototype, 'content');

/** EncryptedContentInfo ::= SEQUENCE { contentType, contentEncryptionAlgorithm, encryptedContent [0] IMPLICIT OCTET STRING } */
export class EncryptedContentInfo {
  contentType = '';
  contentEncryptionAlgorithm = new AlgorithmIdentifier();
  encryptedContent: ArrayBuffer = new ArrayBuffer(0);
  constructor(p: Partial<EncryptedContentInfo> = {}) {
    Object.assign(this, p);
  }
}
AsnProp({ type: AsnPropTypes.ObjectIdentifier })(EncryptedContentInfo.prototype, 'contentType');
AsnProp({ type: AlgorithmIdentifier })(EncryptedContentInfo.prototype, 'contentEncryptionAlgorithm');
AsnProp({ type: AsnPropTypes.OctetString, context: 0, implicit: true })(
  EncryptedContentInfo.prototype,
  'encryptedContent',
);

/** CMS EncryptedData ::= SEQUENCE { version INTEGER (0), encryptedContentInfo } */
export class CmsEncryptedData {
  version = 0;
  encryptedContentInfo = new EncryptedContentInfo();
  constructor(p: Partial<CmsEncryptedData> = {}) {
    Object.assign(this, p);
  }
}
AsnProp({ type: AsnPropTypes.Integer })(CmsEncryptedData.prototype, 'version');
AsnProp({ type: EncryptedContentInfo })(CmsEncryptedData.prototype, 'encryptedContentInfo');

/** PBKDF2-params (RFC 8018 A.2); the salt is the `specified` choice, keyLength omitted. */
export class Pbkdf2Params {
  salt: ArrayBuffer = new ArrayBuffer(0);
  iterationCount = 0;
  prf = new AlgorithmIdentifier();
  constructor(p: Partial<Pbkdf2Params> = {}) {
    Object.assign(this, p);
  }
}
AsnProp({ type: AsnPropTypes.OctetString })(Pbkdf2Params.prototype, 'salt');
AsnProp({ type: AsnPropTypes.Integer })(Pbkdf2Params.prototype, 'iterationCount');
AsnProp({ type: AlgorithmIdentifier })(Pbkdf2Params.prototype, 'prf');

/** PBES2-params (RFC 8018 A.4) */
export class Pbes2Params {
  keyDerivationFunc = new AlgorithmIdentifier();
  encryptionScheme = new AlgorithmIdentifier();
  constructor(p: Partial<Pbes2Params> = {}) {
    Object.assign(this, p);
  }
}
AsnProp({ type: AlgorithmIdentifier })(Pbes2Params.prototype, 'keyDerivationFunc');
AsnProp({ type: AlgorithmIdentifier })(Pbes2Params.prototype, 'encryptionScheme');
