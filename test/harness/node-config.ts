// The configuration files of the local real node (containerd, CNI, kubelet, kube-proxy), as pure functions
// of its layout, so what the node is told is readable in one place and testable without starting it.
// Every path is under the node's own directory: nothing is written to /etc, /var/lib or /run/containerd.
import { join } from 'node:path';
import * as yaml from 'js-yaml';

export interface NodeLayout {
  /** The node's own directory (state, sockets, configs, logs). */
  dir: string;
  nodeName: string;
  /** The bridge the pods hang off, created by the harness (no NAT, no route off this machine). */
  bridge: string;
  /** The pods' /24, e.g. 10.244.77.0/24; the bridge holds its .1, which is also the node's IP. */
  podCidr: string;
  /** The cluster's Service range: the only destination pods get a route to besides their own /24. */
  serviceCidr: string;
  /** The sandbox image (built here: no registry is reachable). */
  pauseImage: string;
  cniBinDir: string;
  runc: string;
  /** Our containerd-shim-runc-v2: Debian's (1.6) may be first on PATH and cannot serve containerd 2. */
  shim: string;
  kubeletPort: number;
  kubeletHealthzPort: number;
  proxyHealthzPort: number;
  proxyMetricsPort: number;
}

/** The address of the bridge, the node and the pods' gateway: the .1 of the pod /24. */
export function bridgeIp(podCidr: string): string {
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(podCidr);
  if (!m) throw new Error(`pod CIDR must be an IPv4 /24 ending in .0: ${podCidr}`);
  return `${m[1]}.1`;
}

export const nodePaths = (dir: string) => ({
  containerdRoot: join(dir, 'containerd', 'root'),
  containerdState: join(dir, 'containerd', 'state'),
  containerdSocket: join(dir, 'containerd.sock'),
  containerdConfig: join(dir, 'containerd.toml'),
  cniConfDir: join(dir, 'cni', 'net.d'),
  cniIpamDir: join(dir, 'cni', 'ipam'),
  kubeletRoot: join(dir, 'kubelet'),
  kubeletCerts: join(dir, 'kubelet', 'pki'),
  kubeletConfig: join(dir, 'kubelet.yaml'),
  kubeletKubeconfig: join(dir, 'kubelet.kubeconfig'),
  podLogs: join(dir, 'pod-logs'),
  proxyConfig: join(dir, 'kube-proxy.yaml'),
  proxyKubeconfig: join(dir, 'kube-proxy.kubeconfig'),
  caFile: join(dir, 'ca.crt'),
  logs: join(dir, 'logs'),
});

const q = (s: string): string => JSON.stringify(s);

/**
 * containerd 2 (config version 3). restrict_oom_score_adj: this machine lacks CAP_SYS_RESOURCE, so a
 * sandbox may not get a lower oom_score_adj than containerd's own. NRI is off (its socket is a fixed host
 * path), network namespaces are mounted under the state dir (so teardown finds every one of them).
 */
export function containerdConfig(l: NodeLayout): string {
  const p = nodePaths(l.dir);
  return [
    'version = 3',
    `root = ${q(p.containerdRoot)}`,
    `state = ${q(p.containerdState)}`,
    `disabled_plugins = ["io.containerd.nri.v1.nri"]`,
    '[grpc]',
    `  address = ${q(p.containerdSocket)}`,
    '[ttrpc]',
    `  address = ${q(`${p.containerdSocket}.ttrpc`)}`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${q(join(l.dir, 'containerd', 'opt'))}`,
    '[plugins."io.containerd.grpc.v1.cri"]',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    '[plugins."io.containerd.cri.v1.images"]',
    '  snapshotter = "overlayfs"',
    '  [plugins."io.containerd.cri.v1.images".pinned_images]',
    `    sandbox = ${q(l.pauseImage)}`,
    '[plugins."io.containerd.cri.v1.runtime"]',
    '  restrict_oom_score_adj = true',
    '  netns_mounts_under_state_dir = true',
    '  enable_selinux = false',
    '  disable_apparmor = true',
    '  [plugins."io.containerd.cri.v1.runtime".containerd]',
    '    default_runtime_name = "runc"',
    '    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]',
    '      runtime_type = "io.containerd.runc.v2"',
    '      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]',
    `        BinaryName = ${q(l.runc)}`,
    '        SystemdCgroup = false',
    '  [plugins."io.containerd.cri.v1.runtime".cni]',
    `    bin_dirs = [${q(l.cniBinDir)}]`,
    `    conf_dir = ${q(p.cniConfDir)}`,
    '    max_conf_num = 1',
    '',
  ].join('\n');
}

/**
 * The pod network: the harness's bridge, no masquerade, no gateway role for the plugin (it would turn on
 * IP forwarding host-wide), and one route only: the Service range via the bridge (kube-proxy's DNAT happens
 * there). Pods have no default route, so nothing they send can leave the machine.
 */
export function cniConflist(l: NodeLayout): string {
  const gw = bridgeIp(l.podCidr);
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'mio-pods',
      plugins: [
        {
          type: 'bridge',
          bridge: l.bridge,
          isGateway: false,
          isDefaultGateway: false,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: nodePaths(l.dir).cniIpamDir,
            ranges: [[{ subnet: l.podCidr, rangeStart: l.podCidr.replace(/0\/24$/, '10'), gateway: gw }]],
            routes: [{ dst: l.serviceCidr, gw }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

/**
 * The kubelet: cgroup v1 is allowed again (failCgroupV1, refused by default since 1.35), cgroupfs, its own
 * oom_score_adj left at 0 (lowering it needs CAP_SYS_RESOURCE), no host resolv.conf for pods (no DNS
 * server to dial), serving only on the node IP and loopback.
 */
export function kubeletConfig(l: NodeLayout): string {
  const p = nodePaths(l.dir);
  return yaml.dump({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    oomScoreAdj: 0,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${p.containerdSocket}`,
    address: bridgeIp(l.podCidr),
    port: l.kubeletPort,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: l.kubeletHealthzPort,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: p.caFile } },
    authorization: { mode: 'Webhook' },
    resolvConf: '',
    podLogsDir: p.podLogs,
    serializeImagePulls: false,
    evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    nodeStatusReportFrequency: '10s',
    syncFrequency: '10s',
  });
}

/**
 * kube-proxy in iptables mode. No sysctl is touched: conntrack sizes and timeouts stay as they are, no
 * route_localnet (localhost NodePorts off), NodePorts only on the node IP; its own oom_score_adj stays 0.
 */
export function kubeProxyConfig(l: NodeLayout): string {
  const p = nodePaths(l.dir);
  return yaml.dump({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: p.proxyKubeconfig },
    hostnameOverride: l.nodeName,
    clusterCIDR: l.podCidr,
    detectLocalMode: 'ClusterCIDR',
    healthzBindAddress: `127.0.0.1:${l.proxyHealthzPort}`,
    metricsBindAddress: `127.0.0.1:${l.proxyMetricsPort}`,
    oomScoreAdj: 0,
    nodePortAddresses: [`${bridgeIp(l.podCidr)}/32`],
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { localhostNodePorts: false, masqueradeAll: false, syncPeriod: '10s', minSyncPeriod: '0s' },
  });
}
