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
import type { AuthorityHealth, Issuer, SignRequest, SignResult } from './types.ts';

/** The contract's usage names → certificates.k8s.io's. */
const K8S_USAGE: Readonly<Record<string, string>> = {
  digitalSignature: 'digital signature', keyEncipherment: 'key encipherment', keyAgreement: 'key agreement', dataEncipherment: 'data encipherment',
  contentCommitment: 'content commitment', certSign: 'cert sign', crlSign: 'crl sign', encipherOnly: 'encipher only', decipherOnly: 'decipher only',
  serverAuth: 'server auth', clientAuth: 'client auth', codeSigning: 'code signing', emailProtection: 'email protection', timeStamping: 'timestamping',
  ocspSigning: 'ocsp signing', ipsecEndSystem: 'ipsec end system', ipsecTunnel: 'ipsec tunnel', ipsecUser: 'ipsec user', any: 'any',
};
const CSR_API = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
/** The API's minimum expirationSeconds. */
const MIN_EXPIRATION_S = 600;

interface Csr { metadata?: { name?: string }; status?: { certificate?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] } }

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
    const cm = await getJsonOrNotFound<k8s.V1ConfigMap>(this.kc, `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/configmaps/kube-root-ca.crt`, {}).catch(() => undefined);
    const pem = cm?.data?.['ca.crt'];
    const base = { ready: true, reason: 'Ready', message: `certificates are requested from signer ${this.signerName} through the CertificateSigningRequest API; someone (a person or an approver) must approve each request` };
    if (!pem) return base;
    try {
      const [der] = pemBlocks(pem, ['CERTIFICATE']);
      return { ...base, caBundlePem: pem, ...(der ? { caFingerprintSHA256: fingerprintOf({ der }) } : {}) };
    } catch { return base; }
  }

  private nameFor(req: SignRequest): string {
    return `mio-${req.identity.namespace}-${req.identity.name}`.slice(0, 200).replace(/[^a-z0-9.-]/g, '-') + `-${createHash('sha256').update(req.requestId).digest('hex').slice(0, 10)}`;
  }

  async sign(req: SignRequest): Promise<SignResult> {
    const name = this.nameFor(req);
    let csr = await getJsonOrNotFound<Csr>(this.kc, `${CSR_API}/${name}`, {});
    if (!csr) {
      const usages = req.usages.map((u) => K8S_USAGE[u]).filter((u): u is string => Boolean(u));
      const body = { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest',
        metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'machine-identity-operator', 'machineidentity.io/identity': req.identity.name.slice(0, 63) },
          annotations: { 'machineidentity.io/identity': `${req.identity.namespace}/${req.identity.name}` } },
        spec: { signerName: this.signerName, request: Buffer.from(req.csrPem).toString('base64'), usages,
          expirationSeconds: Math.max(MIN_EXPIRATION_S, Math.round(req.durationMs / 1000)) } };
      const res = await sendRaw(this.kc, 'POST', CSR_API, JSON.stringify(body), 'application/json');
      if (res.status === 409) csr = await getJsonOrNotFound<Csr>(this.kc, `${CSR_API}/${name}`, {});
      else if (res.status < 200 || res.status >= 300) {
        const msg = safeMessage(res.text);
        return res.status === 422 || res.status === 403
          ? { status: 'denied', reason: res.status === 403 ? 'Forbidden' : 'Invalid', message: `the API server refused CertificateSigningRequest ${name}: ${msg}` }
          : { status: 'failed', reason: 'APIError', message: `creating CertificateSigningRequest ${name}: HTTP ${res.status} ${msg}` };
      } else csr = JSON.parse(res.text) as Csr;
    }
    return this.outcome(name, csr);
  }

  private async outcome(name: string, csr: Csr | undefined): Promise<SignResult> {
    const cond = (t: string): { reason?: string; message?: string } | undefined => csr?.status?.conditions?.find((c) => c.type === t && c.status === 'True');
    const denied = cond('Denied'), failed = cond('Failed');
    if (denied) return { status: 'denied', reason: denied.reason ?? 'Denied', message: `CertificateSigningRequest ${name} was denied: ${denied.message ?? ''}` };
    if (failed) return { status: 'denied', reason: failed.reason ?? 'Failed', message: `signer ${this.signerName} failed CertificateSigningRequest ${name}: ${failed.message ?? ''}` };
    const cert = csr?.status?.certificate;
    if (!cert) {
      return { status: 'pending', retryAfterMs: 2000, message: cond('Approved')
        ? `CertificateSigningRequest ${name} is approved; waiting for signer ${this.signerName}`
        : `waiting for CertificateSigningRequest ${name} to be approved (kubectl certificate approve ${name})` };
    }
    const pems = splitPem(Buffer.from(cert, 'base64').toString('utf8'));
    const h = await this.health();
    // the request has served its purpose: kube-controller-manager would only delete it after the certificate expires
    await sendRaw(this.kc, 'DELETE', `${CSR_API}/${name}`, '', 'application/json').catch(() => undefined);
    return { status: 'issued', certificatePem: pems[0]!, chainPem: pems.slice(1), caPem: h.caBundlePem ?? '', authorityFingerprintSHA256: h.caFingerprintSHA256 ?? '' };
  }
}

function safeMessage(text: string): string {
  try { return String((JSON.parse(text) as { message?: string }).message ?? '').slice(0, 500); } catch { return text.slice(0, 200); }
}
