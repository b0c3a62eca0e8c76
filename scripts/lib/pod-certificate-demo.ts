// What `npm run dev -- --node=real` prints at the end: how to watch the real kubelet obtain a pod
// certificate from the operator (the kubelet makes the key and the PodCertificateRequest, the operator
// signs it, the kubelet writes the credential bundle into the pod). Pure, so the recipe is tested.

export interface PodCertificateDemo {
  /** the signer, machineidentity.io/<binding> */
  signerName: string;
  /** the demo Pod, for the caller to write to manifestPath */
  pod: Record<string, unknown>;
  /** the commands to run, in order */
  steps: string[];
}

const MOUNT = '/var/run/mio';
const BUNDLE = 'credentialbundle.pem';

/**
 * The demo for `binding` in `namespace`, with a container running `image` (it must be in the node's
 * containerd already and have `sleep` and `cat`). `signerEnabled` says whether the binding already has
 * spec.signer.podCertificates; when not, the first step turns it on.
 */
export function podCertificateDemo(opts: {
  binding: string;
  namespace: string;
  image: string;
  signerEnabled: boolean;
  kubectl: string;
  /** where the caller writes `pod` */
  manifestPath: string;
}): PodCertificateDemo {
  const signerName = `machineidentity.io/${opts.binding}`;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'pod-certificate-demo', namespace: opts.namespace },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: opts.image,
          imagePullPolicy: 'Never',
          command: ['sleep', 'infinity'],
          securityContext: { runAsUser: 65532, runAsNonRoot: true, readOnlyRootFilesystem: true },
          volumeMounts: [{ name: 'identity', mountPath: MOUNT, readOnly: true }],
        },
      ],
      volumes: [
        {
          name: 'identity',
          projected: {
            sources: [{ podCertificate: { signerName, keyType: 'ECDSAP256', credentialBundlePath: BUNDLE } }],
          },
        },
      ],
    },
  };
  const k = opts.kubectl;
  const ns = opts.namespace;
  const enable = `${k} patch certificateauthoritybinding ${opts.binding} --type merge -p '{"spec":{"signer":{"podCertificates":true}}}'`;
  const steps = [
    ...(opts.signerEnabled ? [] : [`${enable}   # examples/ do not make ${opts.binding} a pod signer`]),
    `${k} get podcertificaterequests -A -w &   # the kubelet's request, then the operator's answer`,
    `${k} apply -f ${opts.manifestPath}`,
    `${k} -n ${ns} wait pod/pod-certificate-demo --for=condition=Ready --timeout=120s`,
    // the bundle holds the pod's private key first: show only its certificates
    `${k} -n ${ns} exec pod-certificate-demo -- sed -n '/BEGIN CERTIFICATE/,$p' ${MOUNT}/${BUNDLE} | openssl x509 -noout -subject -issuer -enddate -ext subjectAltName`,
  ];
  return { signerName, pod, steps };
}
