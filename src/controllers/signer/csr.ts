// Decisions of the CertificateSigningRequest signer (certificates.k8s.io/v1), pure: the identity
// request a CSR stands for, so IssuancePolicy approves or denies it like any other request.
import { parseCsr } from '../../pki/csr.ts';
import { describeKey } from '../../pki/keys.ts';
import type { IdentityRequest } from '../../policy/types.ts';
import { SignerReason } from '../../crds/reasons.ts';

/** certificates.k8s.io usage names → the contract's. */
const USAGES: Readonly<Record<string, string>> = {
  signing: 'digitalSignature',
  'digital signature': 'digitalSignature',
  'content commitment': 'contentCommitment',
  'key encipherment': 'keyEncipherment',
  'key agreement': 'keyAgreement',
  'data encipherment': 'dataEncipherment',
  'cert sign': 'certSign',
  'crl sign': 'crlSign',
  'encipher only': 'encipherOnly',
  'decipher only': 'decipherOnly',
  any: 'any',
  'server auth': 'serverAuth',
  'client auth': 'clientAuth',
  'code signing': 'codeSigning',
  'email protection': 'emailProtection',
  's/mime': 'emailProtection',
  'ipsec end system': 'ipsecEndSystem',
  'ipsec tunnel': 'ipsecTunnel',
  'ipsec user': 'ipsecUser',
  timestamping: 'timeStamping',
  'ocsp signing': 'ocspSigning',
};
const DEFAULT_CSR_DURATION_MS = 24 * 3600_000;

/** The fields of a CSR's spec the signer reads; username and groups are the API server's record of who created it. */
export interface CsrSpecLike {
  request: string;
  signerName: string;
  expirationSeconds?: number;
  usages?: string[];
  username?: string;
  groups?: string[];
}

export function contractUsages(usages: readonly string[] | undefined): { usages: string[]; unknown: string[] } {
  const out: string[] = [],
    unknown: string[] = [];
  for (const u of usages ?? []) {
    const c = USAGES[u];
    if (c) out.push(c);
    else unknown.push(u);
  }
  return { usages: [...new Set(out)], unknown };
}

/** The lifetime to issue: expirationSeconds (the API's minimum is 600), else a day; capped by the binding. */
export function csrDurationMs(expirationSeconds: number | undefined, bindingMaxMs: number | undefined): number {
  const asked = expirationSeconds !== undefined ? expirationSeconds * 1000 : DEFAULT_CSR_DURATION_MS;
  return Math.min(asked, bindingMaxMs ?? Number.POSITIVE_INFINITY);
}

export type CsrRequest =
  | { ok: true; csrPem: string; request: IdentityRequest; usages: string[] }
  | { ok: false; reason: string; message: string };

/** The identity request a CSR stands for, in `namespace`: the requester's (see boundaries.ts csrRequesterScope), never anything the CSR says. */
export function csrIdentityRequest(
  name: string,
  labels: Record<string, string>,
  spec: CsrSpecLike,
  authority: string,
  durationMs: number,
  namespace: string,
): CsrRequest {
  const csrPem = Buffer.from(spec.request, 'base64').toString('utf8');
  let facts: ReturnType<typeof parseCsr>;
  try {
    facts = parseCsr(csrPem);
  } catch (e) {
    return {
      ok: false,
      reason: SignerReason.InvalidRequest,
      message: `spec.request is not a PEM PKCS#10 CSR: ${(e as Error).message}`,
    };
  }
  if (!facts.signatureValid)
    return {
      ok: false,
      reason: SignerReason.InvalidRequest,
      message: "the CSR's signature does not verify with its own key",
    };
  const { usages, unknown } = contractUsages(spec.usages);
  if (unknown.length)
    return {
      ok: false,
      reason: SignerReason.UnsupportedUsage,
      message: `unknown usages ${unknown.map((u) => JSON.stringify(u)).join(', ')}`,
    };
  const key = describeKey(facts.publicKey);
  const request: IdentityRequest = {
    namespace,
    name,
    labels,
    authority,
    subject: {
      organizations: [...(facts.subject.organizations ?? [])],
      ...(facts.subject.commonName ? { commonName: facts.subject.commonName } : {}),
    },
    dnsNames: facts.dnsNames,
    ipAddresses: facts.ipAddresses,
    uris: facts.uris,
    emailAddresses: facts.emailAddresses,
    usages,
    isCA: facts.isCA,
    key: key.size === undefined ? { algorithm: key.algorithm } : { algorithm: key.algorithm, size: key.size },
    durationMs,
  };
  return { ok: true, csrPem, request, usages };
}
