// Decisions of the PodCertificateRequest signer (certificates.k8s.io v1 and v1beta1), pure: which
// public key a request carries (stubPKCS10Request, the only form in v1; in v1beta1 also the deprecated
// pkixPublicKey + proofOfPossession), whether the signer supports it, the validity the API server
// accepts, and the identity request policy sees. requestKey reads untrusted bytes: it runs in the parse
// pool (src/parsing/tasks.ts), after keyFieldsRefusal bounded their size.
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { describeKey } from '../../pki/keys.ts';
import { csrOutline } from '../../pki/outlines.ts';
import type { IdentityRequest } from '../../policy/types.ts';
import { SignerReason } from '../../crds/reasons.ts';

export const SIGNER_PREFIX = 'machineidentity.io/';
/** The API server refuses shorter lifetimes; it also checks notBefore within 5 minutes of its clock. */
const MIN_LIFETIME_MS = 3600_000;
const DEFAULT_MAX_EXPIRATION_SECONDS = 86_400;
const BACKDATE_MS = 2 * 60_000;
/**
 * Largest base64 key field handed to the parser. The biggest key the API allows (RSA 4096) makes a
 * stub CSR of about 1.2 KiB; anything much larger is not a kubelet's request.
 */
export const MAX_KEY_FIELD_CHARS = 16 * 1024;

export interface PcrSpec {
  signerName: string;
  podName: string;
  podUID: string;
  serviceAccountName: string;
  serviceAccountUID?: string;
  nodeName?: string;
  nodeUID?: string;
  maxExpirationSeconds?: number;
  pkixPublicKey?: string;
  proofOfPossession?: string;
  stubPKCS10Request?: string;
  unverifiedUserAnnotations?: Record<string, string>;
}

export type Refusal = { ok: false; reason: string; message: string };
export interface RequestKey {
  ok: true;
  spkiDer: Buffer;
  publicKey: KeyObject;
  algorithm: string;
  size?: number;
}

/** The key types a PodCertificateRequest may carry (the API's list). */
const SUPPORTED: Readonly<Record<string, readonly (number | undefined)[]>> = {
  RSA: [3072, 4096],
  ECDSA: [256, 384, 521],
  Ed25519: [undefined],
};

function checkSupported(publicKey: KeyObject, spkiDer: Buffer): RequestKey | Refusal {
  const d = describeKey(publicKey);
  const ok = SUPPORTED[d.algorithm]?.includes(d.size);
  if (!ok) {
    return {
      ok: false,
      reason: SignerReason.UnsupportedKeyType,
      message: `${d.algorithm}${d.size ? ` ${d.size}` : ''} keys are not supported; use RSA 3072 or 4096, ECDSA P-256, P-384 or P-521, or Ed25519`,
    };
  }
  return { ok: true, spkiDer, publicKey, algorithm: d.algorithm, ...(d.size !== undefined ? { size: d.size } : {}) };
}

/** proofOfPossession: the pod UID signed with the private key (RSA-PSS/SHA-256, ECDSA/SHA-256 ASN.1, Ed25519). */
function proofVerifies(key: KeyObject, podUID: string, proof: Buffer): boolean {
  const data = Buffer.from(podUID, 'utf8');
  try {
    switch (key.asymmetricKeyType) {
      case 'rsa':
        return verify(
          'sha256',
          data,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
          proof,
        );
      case 'ec':
        return verify('sha256', data, key, proof);
      case 'ed25519':
        return verify(null, data, key, proof);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

/** What requestKey reads of a request (all the parse pool is sent). */
export type KeyFields = Pick<PcrSpec, 'podUID' | 'stubPKCS10Request' | 'pkixPublicKey' | 'proofOfPossession'>;

export function keyFields(spec: PcrSpec): KeyFields {
  const { podUID, stubPKCS10Request, pkixPublicKey, proofOfPossession } = spec;
  return {
    podUID,
    ...(stubPKCS10Request !== undefined ? { stubPKCS10Request } : {}),
    ...(pkixPublicKey !== undefined ? { pkixPublicKey } : {}),
    ...(proofOfPossession !== undefined ? { proofOfPossession } : {}),
  };
}

/** Refusal for a key field too large to be a request the API server admitted from a kubelet (the parse budget). */
export function keyFieldsRefusal(f: KeyFields): Refusal | undefined {
  for (const name of ['stubPKCS10Request', 'pkixPublicKey', 'proofOfPossession'] as const) {
    const len = f[name]?.length ?? 0;
    if (len > MAX_KEY_FIELD_CHARS)
      return {
        ok: false,
        reason: SignerReason.InvalidRequest,
        message: `${name} is ${len} base64 characters; this signer reads at most ${MAX_KEY_FIELD_CHARS}`,
      };
  }
  return undefined;
}

/** The public key of a request: the stub CSR's, else (v1beta1) pkixPublicKey with a valid proof. */
export function requestKey(spec: KeyFields): RequestKey | Refusal {
  if (spec.stubPKCS10Request) {
    // the API server checked the stub's signature when it admitted the request: only its key matters here
    let spkiDer: Buffer, publicKey: KeyObject;
    try {
      spkiDer = Buffer.from(csrOutline(Buffer.from(spec.stubPKCS10Request, 'base64')).spki);
      publicKey = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
    } catch {
      return {
        ok: false,
        reason: SignerReason.InvalidRequest,
        message: 'stubPKCS10Request is not a DER PKCS#10 request',
      };
    }
    return checkSupported(publicKey, spkiDer);
  }
  if (!spec.pkixPublicKey)
    return {
      ok: false,
      reason: SignerReason.InvalidRequest,
      message: 'the request carries no stubPKCS10Request (nor, in v1beta1, pkixPublicKey)',
    };
  const spkiDer = Buffer.from(spec.pkixPublicKey, 'base64');
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch {
    return {
      ok: false,
      reason: SignerReason.InvalidRequest,
      message: 'pkixPublicKey is not a DER SubjectPublicKeyInfo',
    };
  }
  const supported = checkSupported(publicKey, spkiDer);
  if (!supported.ok) return supported;
  if (!proofVerifies(publicKey, spec.podUID, Buffer.from(spec.proofOfPossession ?? '', 'base64'))) {
    return {
      ok: false,
      reason: SignerReason.InvalidProofOfPossession,
      message: 'proofOfPossession is not a signature of the pod UID by pkixPublicKey',
    };
  }
  return supported;
}

/** This signer understands no unverifiedUserAnnotations: any key is refused, so nothing is silently ignored. */
export function annotationsRefusal(spec: PcrSpec, signerName: string): Refusal | undefined {
  const keys = Object.keys(spec.unverifiedUserAnnotations ?? {});
  if (keys.length === 0) return undefined;
  return {
    ok: false,
    reason: SignerReason.InvalidUnverifiedUserAnnotations,
    message: `signer ${signerName} understands no unverifiedUserAnnotations; got ${keys
      .slice(0, 5)
      .map((k) => JSON.stringify(k.slice(0, 63)))
      .join(', ')}`,
  };
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
  beginRefreshAt: Date;
  lifetimeMs: number;
}

/**
 * lifetime = min(maxExpirationSeconds, the signer's maxPodCertificateDuration, the binding's
 * maxDuration), never under 1 hour; notBefore 2 minutes back (the API allows 5); beginRefreshAt at
 * 2/3 of the lifetime, inside the API's [notBefore + 10m, notAfter − 10m]. Whole seconds throughout.
 */
export function validity(now: Date, spec: PcrSpec, signerMaxMs: number, bindingMaxMs?: number): Validity {
  const requested = (spec.maxExpirationSeconds ?? DEFAULT_MAX_EXPIRATION_SECONDS) * 1000;
  let lifetime = Math.min(requested, signerMaxMs, bindingMaxMs ?? Number.POSITIVE_INFINITY);
  lifetime = Math.floor(Math.max(lifetime, MIN_LIFETIME_MS) / 1000) * 1000;
  const notBefore = new Date(Math.floor((now.getTime() - BACKDATE_MS) / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + lifetime);
  const beginRefreshAt = new Date(notBefore.getTime() + Math.floor((lifetime * 2) / 3 / 1000) * 1000);
  return { notBefore, notAfter, beginRefreshAt, lifetimeMs: lifetime };
}

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** What IssuancePolicy evaluates for a pod's certificate. */
export function podIdentityRequest(o: {
  namespace: string;
  spec: PcrSpec;
  podLabels: Record<string, string>;
  authority: string;
  uri: string;
  key: RequestKey;
  lifetimeMs: number;
}): IdentityRequest {
  return {
    namespace: o.namespace,
    name: o.spec.podName,
    labels: o.podLabels,
    authority: o.authority,
    subject: { organizations: [] },
    dnsNames: [],
    ipAddresses: [],
    uris: [o.uri],
    emailAddresses: [],
    usages: ['clientAuth', 'serverAuth'],
    isCA: false,
    key: o.key.size === undefined ? { algorithm: o.key.algorithm } : { algorithm: o.key.algorithm, size: o.key.size },
    durationMs: o.lifetimeMs,
  };
}
