// ca backend: a CA whose key lives in a Secret in the operator's namespace, signing in memory. The
// key is imported into WebCrypto once, when the issuer is built, not per signature.
import type * as x509 from '@peculiar/x509';
import type { webcrypto } from 'node:crypto';
import type { AuthorityHealth, Issuer, SignRequest, SignResult } from './types.ts';
import type { CaMaterial } from './ca-material.ts';
import { parseAndVerifyCsr, signFromCsr, toSigningKey, type SigningAlgorithm } from './sign-from-csr.ts';

export interface InClusterCaOptions { maxDurationMs?: number; now?: () => Date }

const SKI_OID = '2.5.29.14';

export class InClusterCaIssuer implements Issuer {
  readonly backend = 'ca';
  readonly inProcess = true;
  readonly fingerprintSHA256: string;
  readonly notAfter: Date;
  private readonly material: CaMaterial;
  private readonly signingKey: webcrypto.CryptoKey;
  private readonly algorithm: SigningAlgorithm;
  private readonly authorityKeyId: string | undefined;
  private readonly caPem: string;
  private readonly maxDurationMs: number | undefined;
  private readonly now: () => Date;

  /** Throws if the key cannot sign; loadCaMaterial has already ruled that out for loaded material. */
  constructor(material: CaMaterial, o: InClusterCaOptions = {}) {
    const signer = toSigningKey(material.key);
    if (!signer) throw new Error(`cannot sign with a ${material.key.asymmetricKeyType ?? 'unknown'} key`);
    this.material = material;
    this.signingKey = signer.key;
    this.algorithm = signer.algorithm;
    this.authorityKeyId = skiOf(material.cert);
    this.caPem = material.trustBundlePem.join('');
    this.fingerprintSHA256 = material.fingerprintSHA256;
    this.notAfter = material.notAfter;
    this.maxDurationMs = o.maxDurationMs;
    this.now = o.now ?? ((): Date => new Date());
  }

  health(): Promise<AuthorityHealth> {
    const m = this.material;
    const base = { caFingerprintSHA256: m.fingerprintSHA256, caNotAfter: isoSeconds(m.notAfter), caBundlePem: this.caPem };
    if (this.now().getTime() >= m.notAfter.getTime()) {
      return Promise.resolve({ ready: false, reason: 'CAExpired', message: `the CA certificate expired at ${base.caNotAfter}`, ...base });
    }
    return Promise.resolve({ ready: true, reason: 'Ready', message: `CA ${m.cert.subject} is valid until ${base.caNotAfter}`, ...base });
  }

  async sign(req: SignRequest): Promise<SignResult> {
    const parsed = await parseAndVerifyCsr(req.csrPem);
    if (!parsed.ok) return { status: 'denied', reason: parsed.reason, message: parsed.message };
    const r = await signFromCsr(parsed.csr, {
      signingKey: this.signingKey, algorithm: this.algorithm, issuerName: this.material.cert.subjectName,
      authorityKeyId: this.authorityKeyId, notAfter: this.material.notAfter,
    }, { durationMs: req.durationMs, maxDurationMs: this.maxDurationMs, isCA: req.isCA, usages: req.usages, now: this.now() });
    if (!r.ok) return { status: 'denied', reason: r.reason, message: r.message };
    return {
      status: 'issued', certificatePem: `${r.cert.toString('pem')}\n`, chainPem: [...this.material.intermediatesPem],
      caPem: this.caPem, authorityFingerprintSHA256: this.material.fingerprintSHA256,
    };
  }
}

/** The CA's subjectKeyIdentifier (hex), for the leaf's authorityKeyIdentifier. */
function skiOf(cert: x509.X509Certificate): string | undefined {
  const ext = cert.getExtension(SKI_OID) as (x509.Extension & { keyId?: string }) | null;
  return ext?.keyId;
}

export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
