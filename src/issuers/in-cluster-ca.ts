// ca backend: a CA whose key lives in a Secret in the operator's namespace, signing in memory.
// Everything that depends only on the CA (issuer Name DER, authority key identifier, signing key,
// fingerprint, chain PEMs) is worked out once, when the issuer is built, not per signature.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { BindingReason } from '../crds/reasons.ts';
import { signatureAlgorithmFor } from '../pki/algorithms.ts';
import { certificateOutline } from '../pki/outlines.ts';
import { subjectKeyIdentifierOf } from '../pki/extension-decode.ts';
import { EXTENSION_OIDS, keyIdentifier } from '../pki/extensions.ts';
import { encodeSan } from '../pki/names.ts';
import { pemBlocks } from '../pki/pem.ts';
import type { CaMaterial } from './ca-material.ts';
import { verifyCsr, type VerifiedCsr } from './csr-checks.ts';
import { signFromCsrSync, templateFor, type SigningAuthority, type SignOutcome } from './sign-from-csr.ts';
import type { AuthorityHealth, Issuer, PublicKeySignRequest, SignRequest, SignResult } from './types.ts';

export interface InClusterCaOptions {
  maxDurationMs?: number;
  now?: () => Date;
}

/** The CA certificate's subject Name (DER) and the key identifier for leaves' authorityKeyIdentifier. */
function issuerIdentity(certPem: string): { issuerNameDer: Buffer; authorityKeyId: Buffer } {
  const [der] = pemBlocks(certPem, ['CERTIFICATE']);
  if (!der) throw new Error('the CA certificate PEM contains no CERTIFICATE block');
  const o = certificateOutline(der);
  const ski = o.extensions.get(EXTENSION_OIDS.subjectKeyIdentifier);
  // The CA's own subjectKeyIdentifier; without one, RFC 5280 4.2.1.2 method (1) over its public key.
  const authorityKeyId = (ski && subjectKeyIdentifierOf(ski.value)) ?? keyIdentifier(o.spki);
  // Copies: the outline's slices share the (pooled) buffer of the whole certificate.
  return { issuerNameDer: Buffer.from(o.subject), authorityKeyId: Buffer.from(authorityKeyId) };
}

export class InClusterCaIssuer implements Issuer {
  readonly backend = 'ca';
  readonly inProcess = true;
  readonly fingerprintSHA256: string;
  readonly notAfter: Date;
  private readonly material: CaMaterial;
  private readonly authority: Readonly<SigningAuthority> & { signingKey: KeyObject };
  private readonly caPem: string;
  private readonly intermediatesPem: readonly string[];
  private readonly maxDurationMs: number | undefined;
  private readonly now: () => Date;

  /** Throws if the key cannot sign; loadCaMaterial has already ruled that out for loaded material. */
  constructor(material: CaMaterial, o: InClusterCaOptions = {}) {
    if (!signatureAlgorithmFor(material.key))
      throw new Error(`cannot sign with a ${material.key.asymmetricKeyType ?? 'unknown'} key`);
    const { issuerNameDer, authorityKeyId } = issuerIdentity(material.certPem);
    this.material = material;
    this.authority = Object.freeze({
      signingKey: material.key,
      issuerNameDer,
      authorityKeyId,
      notAfter: material.notAfter,
    });
    this.caPem = material.trustBundlePem.join('');
    this.intermediatesPem = Object.freeze([...material.intermediatesPem]);
    this.fingerprintSHA256 = material.fingerprintSHA256;
    this.notAfter = material.notAfter;
    this.maxDurationMs = o.maxDurationMs;
    this.now = o.now ?? ((): Date => new Date());
  }

  health(): Promise<AuthorityHealth> {
    const m = this.material;
    const base = {
      caFingerprintSHA256: m.fingerprintSHA256,
      caNotAfter: isoSeconds(m.notAfter),
      caBundlePem: this.caPem,
    };
    if (this.now().getTime() >= m.notAfter.getTime()) {
      return Promise.resolve({
        ready: false,
        reason: BindingReason.CAExpired,
        message: `the CA certificate expired at ${base.caNotAfter}`,
        ...base,
      });
    }
    return Promise.resolve({
      ready: true,
      reason: BindingReason.Ready,
      message: `CA ${m.cert.subject} is valid until ${base.caNotAfter}`,
      ...base,
    });
  }

  // async: a throw from signing becomes a rejection, as the Issuer interface expects
  async sign(req: SignRequest): Promise<SignResult> {
    return this.signSync(req);
  }

  async signPublicKey(req: PublicKeySignRequest): Promise<SignResult> {
    const r = signFromCsrSync(publicKeyRequest(req), this.authority, {
      durationMs: req.notAfter.getTime() - req.notBefore.getTime(),
      isCA: false,
      usages: req.usages,
      now: this.now(),
      validity: { notBefore: req.notBefore, notAfter: req.notAfter },
    });
    return this.result(r);
  }

  private signSync(req: SignRequest): SignResult {
    const parsed = verifyCsr(req.csrPem);
    if (!parsed.ok) return { status: 'denied', reason: parsed.reason, message: parsed.message };
    return this.result(signFromCsrSync(parsed.csr, this.authority, templateFor(req, this.maxDurationMs, this.now())));
  }

  private result(r: SignOutcome): SignResult {
    if (!r.ok) return { status: 'denied', reason: r.reason, message: r.message };
    return {
      status: 'issued',
      certificatePem: r.cert.pem,
      chainPem: [...this.intermediatesPem],
      caPem: this.caPem,
      authorityFingerprintSHA256: this.fingerprintSHA256,
    };
  }
}

/** The VerifiedCsr a bare public key stands for: empty subject, the SANs, nothing else requested. */
function publicKeyRequest(req: PublicKeySignRequest): VerifiedCsr {
  const san = encodeSan({ uris: req.uris, dnsNames: req.dnsNames });
  return {
    subjectNameDer: Buffer.from([0x30, 0x00]),
    spkiDer: req.spkiDer,
    publicKey: req.publicKey ?? createPublicKey({ key: req.spkiDer, format: 'der', type: 'spki' }),
    extensions: new Map(san ? [[EXTENSION_OIDS.subjectAltName, { critical: true, value: san }]] : []),
  };
}

export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
