// Clients that act as a real requester of the signers: a ServiceAccount with a TokenRequest token (so
// the API server records system:serviceaccount:<ns>:<name> and its groups in a CSR), allowed by RBAC
// to create, read and delete CertificateSigningRequests.
import * as k8s from '@kubernetes/client-node';
import { withSharedDispatcher } from '../../src/runtime/shared-dispatcher.ts';

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
