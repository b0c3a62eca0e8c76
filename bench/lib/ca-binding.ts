// The benchmarks' CA: a CertificateAuthorityBinding whose in-cluster CA the operator generates
// (ECDSA P-256), created and waited for until Ready (bench issuance, validate and fairness).
import * as k8s from '@kubernetes/client-node';

const CAB = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'certificateauthoritybindings' };
type Status = { conditions?: { type: string; status: string }[] };

/** Creates the binding and polls it every 100 ms; throws when it is not Ready within 30 s. */
export async function createReadyCaBinding(kc: k8s.KubeConfig, name: string, commonName: string): Promise<void> {
  const co = kc.makeApiClient(k8s.CustomObjectsApi);
  await co.createClusterCustomObject({
    ...CAB,
    body: {
      apiVersion: 'machineidentity.io/v1alpha1',
      kind: 'CertificateAuthorityBinding',
      metadata: { name },
      spec: { ca: { secretRef: { name }, generate: { commonName, privateKey: { algorithm: 'ECDSA', size: 256 } } } },
    },
  });
  for (let i = 0; i < 300; i++) {
    const b = (await co.getClusterCustomObject({ ...CAB, name })) as { status?: Status };
    if (b.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`binding ${name} not Ready within 30 s`);
}
