// kubernetes backend: the cluster's own signers through certificates.k8s.io/v1 CertificateSigningRequests
// (kube-controller-manager signs kubernetes.io/kube-apiserver-client, kubelet-serving, ...). One CSR per
// issuance attempt, named from the request id, so a retry (or a restarted operator) finds the same
// request instead of filing a second one; the identity shows Issuing while it waits for approval.
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { getJsonOrNotFound, sendRaw } from '../runtime/kube.ts';
import { pemBlocks } from '../pki/pem.ts';
import { splitPem } from '../pki/certs.ts';
import { fingerprintOf } from '../pki/fingerprint.ts';
import { IssuerReason } from '../crds/reasons.ts';
import { relayedReason, type AuthorityHealth, type Issuer, type SignRequest, type SignResult } from './types.ts';

/** The contract's usage names → certificates.k8s.io's. */
const K8S_USAGE: Readonly<Record<string, string>> = {
  digitalSignature: 'digital signature',
  keyEncipherment: 'key encipherment',
  keyAgreement: 'key agreement',
  dataEncipherment: 'data encipherment',
  contentCommitment: 'content commitment',
  certSign: 'cert sign',
  crlSign: 'crl sign',
  encipherOnly: 'encipher only',
  decipherOnly: 'decipher only',
  serverAuth: 'server auth',
  clientAuth: 'client auth',
  codeSigning: 'code signing',
  emailProtection: 'email protection',
  timeStamping: 'timestamping',
  ocspSigning: 'ocsp signing',
  ipsecEndSystem: 'ipsec end system',
  ipsecTunnel: 'ipsec tunnel',
  ipsecUser: 'ipsec user',
  any: 'any',
};
const CSR_API = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
/** The API's minimum expirationSeconds. */
const MIN_EXPIRATION_S = 600;

interface Csr {
  metadata?: { name?: string };
  status?: { certificate?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export class KubernetesCsrIssuer implements Issuer {
  readonly backend = 'kubernetes';
  readonly inProcess = false;
  private readonly kc: k8s.KubeConfig;
  private readonly signerName: string;
  private readonly namespace: string;

  constructor(kc: k8s.KubeConfig, signerName: string, operatorNamespace: string) {
    this.kc = kc;
    this.signerName = signerName;
    this.namespace = operatorNamespace;
  }

  /** The trust anchor: the cluster CA kube-controller-manager publishes in every namespace (kube-root-ca.crt). */
  async health(): Promise<AuthorityHealth> {
    const cm = await getJsonOrNotFound<k8s.V1ConfigMap>(
      this.kc,
      `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/configmaps/kube-root-ca.crt`,
      {},
    ).catch(() => undefined);
    const pem = cm?.data?.['ca.crt'];
    const base: AuthorityHealth = {
      ready: true,
      reason: IssuerReason.Ready,
      message: `certificates are requested from signer ${this.signerName} through the CertificateSigningRequest API; someone (a person or an approver) must approve each request`,
    };
    if (!pem) return base;
    try {
      const [der] = pemBlocks(pem, ['CERTIFICATE']);
      return { ...base, caBundlePem: pem, ...(der ? { caFingerprintSHA256: fingerprintOf({ der }) } : {}) };
    } catch {
      return base;
    }
  }

  private nameFor(req: SignRequest): string {
    return (
      `mio-${req.identity.namespace}-${req.identity.name}`.slice(0, 200).replace(/[^a-z0-9.-]/g, '-') +
      `-${createHash('sha256').update(req.requestId).digest('hex').slice(0, 10)}`
    );
  }

  async sign(req: SignRequest): Promise<SignResult> {
    const name = this.nameFor(req);
    let csr = await getJsonOrNotFound<Csr>(this.kc, `${CSR_API}/${name}`, {});
    if (!csr) {
      const usages = req.usages.map((u) => K8S_USAGE[u]).filter((u): u is string => Boolean(u));
      const body = {
        apiVersion: 'certificates.k8s.io/v1',
        kind: 'CertificateSigningRequest',
        metadata: {
          name,
          labels: {
            'app.kubernetes.io/managed-by': 'machine-identity-operator',
            'machineidentity.io/identity': req.identity.name.slice(0, 63),
          },
          annotations: { 'machineidentity.io/identity': `${req.identity.namespace}/${req.identity.name}` },
        },
        spec: {
          signerName: this.signerName,
          request: Buffer.from(req.csrPem).toString('base64'),
          usages,
          expirationSeconds: Math.max(MIN_EXPIRATION_S, Math.round(req.durationMs / 1000)),
        },
      };
      const res = await sendRaw(this.kc, 'POST', CSR_API, JSON.stringify(body), 'application/json');
      if (res.status === 409) csr = await getJsonOrNotFound<Csr>(this.kc, `${CSR_API}/${name}`, {});
      else if (res.status < 200 || res.status >= 300) return createRefused(name, res.status, res.text);
      else csr = JSON.parse(res.text) as Csr;
    }
    return this.outcome(name, csr);
  }

  private async outcome(name: string, csr: Csr | undefined): Promise<SignResult> {
    const refused = csrRefusal(name, this.signerName, csr);
    if (refused) return refused;
    const cert = csr?.status?.certificate;
    if (!cert) {
      return {
        status: 'pending',
        retryAfterMs: 2000,
        message: trueCondition(csr, 'Approved')
          ? `CertificateSigningRequest ${name} is approved; waiting for signer ${this.signerName}`
          : `waiting for CertificateSigningRequest ${name} to be approved (kubectl certificate approve ${name})`,
      };
    }
    const [leaf, ...chain] = splitPem(Buffer.from(cert, 'base64').toString('utf8'));
    const h = await this.health();
    // the request has served its purpose: kube-controller-manager would only delete it after the certificate expires
    await sendRaw(this.kc, 'DELETE', `${CSR_API}/${name}`, '', 'application/json').catch(() => undefined);
    return {
      status: 'issued',
      certificatePem: leaf ?? '',
      chainPem: chain,
      caPem: h.caBundlePem ?? '',
      authorityFingerprintSHA256: h.caFingerprintSHA256 ?? '',
    };
  }
}

type CsrCondition = NonNullable<NonNullable<Csr['status']>['conditions']>[number];
const trueCondition = (csr: Csr | undefined, type: string): CsrCondition | undefined =>
  csr?.status?.conditions?.find((c) => c.type === type && c.status === 'True');

/** A Denied or Failed CSR: the approver's or signer's own reason is shown as it is. */
export function csrRefusal(name: string, signerName: string, csr: Csr | undefined): SignResult | undefined {
  const denied = trueCondition(csr, 'Denied');
  if (denied)
    return {
      status: 'denied',
      reason: denied.reason ? relayedReason(denied.reason) : IssuerReason.Denied,
      message: `CertificateSigningRequest ${name} was denied: ${denied.message ?? ''}`,
    };
  const failed = trueCondition(csr, 'Failed');
  if (failed)
    return {
      status: 'denied',
      reason: failed.reason ? relayedReason(failed.reason) : IssuerReason.Failed,
      message: `signer ${signerName} failed CertificateSigningRequest ${name}: ${failed.message ?? ''}`,
    };
  return undefined;
}

/** The API server's refusal to create the CSR: 403 and 422 are for good, anything else is retried. */
export function createRefused(name: string, status: number, text: string): SignResult {
  const msg = safeMessage(text);
  if (status === 403)
    return {
      status: 'denied',
      reason: IssuerReason.Forbidden,
      message: `the API server refused CertificateSigningRequest ${name}: ${msg}`,
    };
  if (status === 422)
    return {
      status: 'denied',
      reason: IssuerReason.Invalid,
      message: `the API server refused CertificateSigningRequest ${name}: ${msg}`,
    };
  return {
    status: 'failed',
    reason: IssuerReason.APIError,
    message: `creating CertificateSigningRequest ${name}: HTTP ${status} ${msg}`,
  };
}

function safeMessage(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    const message = typeof body === 'object' && body !== null && 'message' in body ? body.message : undefined;
    return String(message ?? '').slice(0, 500);
  } catch {
    return text.slice(0, 200);
  }
}
