// selfSigned backend (development only): each identity's certificate is signed with its own key, so
// the certificate is its own CA. Nothing to reach, nothing to load: always ready.
import { BindingReason, SignReason } from '../crds/reasons.ts';
import { signatureAlgorithmFor } from '../pki/algorithms.ts';
import { fingerprintOf } from '../pki/fingerprint.ts';
import { keyMatchesCsr, verifyCsr } from './csr-checks.ts';
import { signFromCsrSync, templateFor } from './sign-from-csr.ts';
import type { AuthorityHealth, Issuer, SignRequest, SignResult } from './types.ts';

export interface SelfSignedOptions {
  maxDurationMs?: number;
  now?: () => Date;
}

export class SelfSignedIssuer implements Issuer {
  readonly backend = 'selfSigned';
  readonly inProcess = true;
  private readonly maxDurationMs: number | undefined;
  private readonly now: () => Date;

  constructor(o: SelfSignedOptions = {}) {
    this.maxDurationMs = o.maxDurationMs;
    this.now = o.now ?? ((): Date => new Date());
  }

  health(): Promise<AuthorityHealth> {
    return Promise.resolve({
      ready: true,
      reason: BindingReason.Ready,
      message: 'self-signed: every identity signs its own certificate (development only)',
    });
  }

  // async: a throw from signing becomes a rejection, as the Issuer interface expects
  async sign(req: SignRequest): Promise<SignResult> {
    return this.signSync(req);
  }

  private signSync(req: SignRequest): SignResult {
    if (!req.privateKey)
      return {
        status: 'denied',
        reason: SignReason.PrivateKeyRequired,
        message: "the selfSigned backend needs the identity's private key to sign with, and none was given",
      };
    const parsed = verifyCsr(req.csrPem);
    if (!parsed.ok) return { status: 'denied', reason: parsed.reason, message: parsed.message };
    if (!keyMatchesCsr(req.privateKey, parsed.csr)) {
      return {
        status: 'denied',
        reason: SignReason.PrivateKeyMismatch,
        message: "the private key given for self-signing does not match the CSR's public key",
      };
    }
    if (req.privateKey.type !== 'private' || !signatureAlgorithmFor(req.privateKey)) {
      return {
        status: 'denied',
        reason: SignReason.UnsupportedKey,
        message: `cannot sign with a ${req.privateKey.asymmetricKeyType ?? 'unknown'} key; use ECDSA, RSA or Ed25519`,
      };
    }
    // The certificate is its own CA: issuer = the CSR's subject, signed with the identity's own key, no AKI.
    const template = templateFor(req, this.maxDurationMs, this.now());
    const r = signFromCsrSync(parsed.csr, { signingKey: req.privateKey }, template);
    if (!r.ok) return { status: 'denied', reason: r.reason, message: r.message };
    return {
      status: 'issued',
      certificatePem: r.cert.pem,
      chainPem: [],
      caPem: r.cert.pem,
      authorityFingerprintSHA256: fingerprintOf(r.cert),
    };
  }
}
