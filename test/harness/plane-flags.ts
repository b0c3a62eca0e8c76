// Which flags each supported Kubernetes version's control plane needs. A feature gate the binary does not
// know makes kube-apiserver (and kube-controller-manager, kube-scheduler) refuse to start, and
// kube-controller-manager refuses a --controllers name it does not know, so these differ per minor.
// The versions themselves are built by hack/control-plane-bins.sh (MIO_K8S_VERSION).

/** Which certificates.k8s.io version serves an API on a plane started with these flags; null: not served. */
export type CertificatesVersion = 'v1' | 'v1beta1' | null;

export interface PlaneFlags {
  /** For kube-apiserver, kube-controller-manager and kube-scheduler; empty: pass no --feature-gates. */
  featureGates: string[];
  /** kube-apiserver --runtime-config entries; empty: pass none. */
  runtimeConfig: string[];
  /** kube-controller-manager --controllers. */
  controllers: string[];
  /** What the plane serves for PodCertificateRequest and ClusterTrustBundle (tests branch on this). */
  podCertificateRequest: CertificatesVersion;
  clusterTrustBundle: CertificatesVersion;
}

const BASE_CONTROLLERS = [
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'root-ca-certificate-publisher-controller',
  'certificatesigningrequest-signing-controller',
  'certificatesigningrequest-approving-controller',
  'certificatesigningrequest-cleaner-controller',
  'node-lifecycle-controller',
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'daemonset-controller',
  'clusterrole-aggregation-controller',
];
// exists since 1.34 (with PodCertificateRequest)
const PCR_CLEANER = 'podcertificaterequest-cleaner-controller';

const BY_MINOR: Readonly<Record<number, PlaneFlags>> = {
  // 1.32, the oldest supported (extended support): a default cluster. PodCertificateRequest does not exist
  // yet and ClusterTrustBundle is alpha (v1alpha1), which such clusters do not turn on.
  32: {
    featureGates: [],
    runtimeConfig: [],
    controllers: BASE_CONTROLLERS,
    podCertificateRequest: null,
    clusterTrustBundle: null,
  },
  // 1.36: both APIs are beta in v1beta1, off by default: gates and runtime-config turn them on.
  36: {
    featureGates: ['PodCertificateRequest=true', 'ClusterTrustBundle=true', 'ClusterTrustBundleProjection=true'],
    runtimeConfig: ['certificates.k8s.io/v1beta1=true'],
    controllers: [...BASE_CONTROLLERS, PCR_CLEANER],
    podCertificateRequest: 'v1beta1',
    clusterTrustBundle: 'v1beta1',
  },
  // 1.37: GA in certificates.k8s.io/v1 and on by default; v1beta1 stays off, as on a default 1.37 cluster.
  37: {
    featureGates: [],
    runtimeConfig: [],
    controllers: [...BASE_CONTROLLERS, PCR_CLEANER],
    podCertificateRequest: 'v1',
    clusterTrustBundle: 'v1',
  },
};

/** The minor of a version string such as "v1.37.2" or "Kubernetes v1.37.2"; throws when none is found. */
export function minorOf(version: string): number {
  const m = /v?1\.(\d+)\.\d+/.exec(version);
  if (!m) throw new Error(`not a Kubernetes version: ${JSON.stringify(version)}`);
  return Number(m[1]);
}

/** The flags for a version; throws for a minor the harness has no entry for (an unknown gate is fatal). */
export function planeFlags(version: string): PlaneFlags {
  const minor = minorOf(version);
  const flags = BY_MINOR[minor];
  if (!flags) {
    const known = Object.keys(BY_MINOR).map((k) => `1.${k}`);
    throw new Error(`no control-plane flags for Kubernetes ${version}; supported minors: ${known.join(', ')}`);
  }
  return flags;
}

/** The command-line flags that carry a PlaneFlags entry, for each component (none when empty). */
export function gateArgs(flags: PlaneFlags): string[] {
  return flags.featureGates.length ? [`--feature-gates=${flags.featureGates.join(',')}`] : [];
}
export function runtimeConfigArgs(flags: PlaneFlags): string[] {
  return flags.runtimeConfig.length ? [`--runtime-config=${flags.runtimeConfig.join(',')}`] : [];
}
