// Clients that act as a real requester of the signers: a ServiceAccount with a TokenRequest token (so
// the API server records system:serviceaccount:<ns>:<name> and its groups in a CSR), allowed by RBAC
// to create, read and delete CertificateSigningRequests; and a fake kubelet's PodCertificateRequests,
// at the certificates.k8s.io version the server serves (v1 on 1.37, v1beta1 on 1.35/1.36).
import * as k8s from '@kubernetes/client-node';
import { withSharedDispatcher } from '../../src/runtime/shared-dispatcher.ts';
import { getJson, sendRaw } from '../../src/runtime/kube.ts';
import {
  certificatesApi,
  certificatesPath,
  type CertificatesResource,
  type CertificatesVersion,
} from '../../src/controllers/signer/certificates-api.ts';

const ROLE = 'mio-test-csr-requester';

/** Lets a subject create, read and delete CertificateSigningRequests (what kubelets and workloads that ask for certificates hold). */
export async function grantCsrCreate(admin: k8s.KubeConfig, subject: k8s.RbacV1Subject): Promise<void> {
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac
    .createClusterRole({
      body: {
        metadata: { name: ROLE },
        rules: [
          {
            apiGroups: ['certificates.k8s.io'],
            resources: ['certificatesigningrequests'],
            verbs: ['create', 'get', 'delete'],
          },
        ],
      },
    })
    .catch(() => undefined);
  const id = `${subject.kind}-${subject.namespace ?? ''}-${subject.name}`.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  await rbac
    .createClusterRoleBinding({
      body: {
        metadata: { name: `${ROLE}-${id}`.slice(0, 253) },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ROLE },
        subjects: [subject],
      },
    })
    .catch(() => undefined);
}

/** A client authenticated as ServiceAccount namespace/name (created when missing) with CSR create/get/delete. */
export async function serviceAccountClient(
  admin: k8s.KubeConfig,
  namespace: string,
  name: string,
): Promise<k8s.KubeConfig> {
  const core = admin.makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }).catch(() => undefined);
  await grantCsrCreate(admin, { kind: 'ServiceAccount', namespace, name });
  const tr = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: `${namespace}-${name}`, token: tr.status!.token }],
    contexts: [{ name: 'sa', cluster: cluster.name, user: `${namespace}-${name}` }],
    currentContext: 'sa',
  });
  return withSharedDispatcher(kc);
}

/**
 * The certificates.k8s.io version the shared API server serves `resource` at, chosen as the signer
 * chooses (v1 when served, else v1beta1); throws when it serves neither, so a signer test fails loudly.
 */
export async function certificatesVersion(
  kc: k8s.KubeConfig,
  resource: CertificatesResource,
): Promise<CertificatesVersion> {
  const v = await certificatesApi(kc).version(resource);
  if (!v) throw new Error(`the API server serves ${resource} in neither certificates.k8s.io/v1 nor v1beta1`);
  return v;
}

/**
 * Creates a PodCertificateRequest as `as` (a node: the kubelet's way) at `version`. In v1 the key is
 * only in stubPKCS10Request (a spec with pkixPublicKey is a v1beta1 request).
 */
export async function createPodCertificateRequest(
  as: k8s.KubeConfig,
  version: CertificatesVersion,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<{ status: number; body: string }> {
  const res = await sendRaw(
    as,
    'POST',
    certificatesPath(version, 'podcertificaterequests', namespace),
    JSON.stringify({
      apiVersion: `certificates.k8s.io/${version}`,
      kind: 'PodCertificateRequest',
      metadata: { name },
      spec,
    }),
    'application/json',
  );
  return { status: res.status, body: res.text };
}

/** A PodCertificateRequest read at `version` (throws when it does not exist). */
export async function readPodCertificateRequest<T>(
  kc: k8s.KubeConfig,
  version: CertificatesVersion,
  namespace: string,
  name: string,
): Promise<T> {
  return getJson<T>(
    kc,
    `${certificatesPath(version, 'podcertificaterequests', namespace)}/${encodeURIComponent(name)}`,
    {},
  );
}

/**
 * Pod volumes that project a certificate from each signer: since 1.37 NodeRestriction lets a node
 * create a PodCertificateRequest only for a signer one of the pod's podCertificate volumes names
 * (on 1.36 they are accepted and change nothing here; kwok mounts nothing).
 */
export function podCertificateVolumes(signerNames: readonly string[]): k8s.V1Volume[] {
  return signerNames.map((signerName, i) => ({
    name: `pod-certificate-${i}`,
    projected: {
      sources: [{ podCertificate: { signerName, keyType: 'ECDSAP256', credentialBundlePath: 'credentialbundle.pem' } }],
    },
  }));
}
