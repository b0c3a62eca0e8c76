// A PKCS#12 "bomb" for tests: a small, well-formed PFX whose reader must run PBKDF2 `iterations`
// times for each of `sections` encrypted sections (all decrypt with `password`, so a reader that
// knows it would derive every one). Built with one derivation: every section reuses salt, IV and key.
import { createCipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import { AuthenticatedSafe, MacData, PFX, SafeContents } from '@peculiar/asn1-pfx';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import {
  CmsEncryptedData,
  ContentInfo,
  EncryptedContentInfo,
  Pbes2Params,
  Pbkdf2Params,
} from '../../src/pki/pkcs12-asn1.ts';

const der = (v: object): ArrayBuffer => AsnConvert.serialize(v);
const ab = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

export function pkcs12Bomb(o: {
  sections: number;
  iterations: number;
  password: string;
  macIterations?: number;
}): Buffer {
  const salt = randomBytes(16),
    iv = randomBytes(16);
  // the derivation runs once here, however many sections: keep `iterations` modest in unit tests
  const key = pbkdf2Sync(Buffer.from(o.password, 'utf8'), salt, o.iterations, 32, 'sha256');
  const c = createCipheriv('aes-256-cbc', key, iv);
  const data = Buffer.concat([c.update(Buffer.from(der(new SafeContents([])))), c.final()]);
  const params = new Pbes2Params({
    keyDerivationFunc: new AlgorithmIdentifier({
      algorithm: '1.2.840.113549.1.5.12',
      parameters: der(
        new Pbkdf2Params({
          salt: ab(salt),
          iterationCount: o.iterations,
          prf: new AlgorithmIdentifier({ algorithm: '1.2.840.113549.2.9', parameters: null }),
        }),
      ),
    }),
    encryptionScheme: new AlgorithmIdentifier({
      algorithm: '2.16.840.1.101.3.4.1.42',
      parameters: der(new OctetString(iv)),
    }),
  });
  const ed = new CmsEncryptedData({
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: '1.2.840.113549.1.7.1',
      contentEncryptionAlgorithm: new AlgorithmIdentifier({
        algorithm: '1.2.840.113549.1.5.13',
        parameters: der(params),
      }),
      encryptedContent: ab(data),
    }),
  });
  const section = new ContentInfo({ contentType: '1.2.840.113549.1.7.6', content: der(ed) });
  const authSafe = der(new AuthenticatedSafe(Array.from({ length: o.sections }, () => section) as never[]));
  const macData = new MacData();
  macData.mac.digestAlgorithm = new AlgorithmIdentifier({ algorithm: '2.16.840.1.101.3.4.2.1', parameters: null });
  macData.mac.digest = new OctetString(randomBytes(32));
  macData.macSalt = new OctetString(randomBytes(16));
  macData.iterations = o.macIterations ?? o.iterations;
  return Buffer.from(
    der(
      new PFX({
        version: 3,
        authSafe: new ContentInfo({
          contentType: '1.2.840.113549.1.7.1',
          content: der(new OctetString(authSafe)),
        }) as never,
        macData,
      }),
    ),
  );
}
