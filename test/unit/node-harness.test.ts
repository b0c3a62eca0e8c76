// The real node's pure parts: the configuration it hands containerd, the CNI plugins, the kubelet and
// kube-proxy (the host-safety settings are the point), and the parsers its teardown relies on.
import { describe, it, expect } from '@jest/globals';
import * as yaml from 'js-yaml';
import {
  bridgeIp,
  cniConflist,
  containerdConfig,
  kubeProxyConfig,
  kubeletConfig,
  type NodeLayout,
} from '../harness/node-config.ts';
import { chainsIn, jumpRules, mountsUnder, splitArgs } from '../harness/node-cleanup.ts';

const layout: NodeLayout = {
  dir: '/tmp/mio-node-x',
  nodeName: 'n1',
  bridge: 'mio-br0',
  podCidr: '10.244.77.0/24',
  serviceCidr: '10.0.0.0/24',
  pauseImage: 'localhost/mio-pause:1',
  cniBinDir: '/usr/lib/cni',
  runc: '/usr/sbin/runc',
  shim: '/cache/containerd-shim-runc-v2',
  kubeletPort: 1,
  kubeletHealthzPort: 2,
  proxyHealthzPort: 3,
  proxyMetricsPort: 4,
};

describe('node configuration', () => {
  it.each([
    ['10.244.77.0/24', '10.244.77.1'],
    ['192.168.5.0/24', '192.168.5.1'],
  ])('bridge address of %s is %s', (cidr, ip) => expect(bridgeIp(cidr)).toBe(ip));
  it.each(['10.244.0.0/16', '10.244.77.5/24', 'fd00::/64'])('refuses pod CIDR %s', (cidr) =>
    expect(() => bridgeIp(cidr)).toThrow(/24/),
  );

  it('containerd: own paths, OOM adj restricted, runc via cgroupfs, our pause image and CNI dirs', () => {
    const t = containerdConfig(layout);
    expect(t).toContain('root = "/tmp/mio-node-x/containerd/root"');
    expect(t).toContain('address = "/tmp/mio-node-x/containerd.sock"');
    expect(t).toContain('restrict_oom_score_adj = true');
    expect(t).toContain('netns_mounts_under_state_dir = true');
    expect(t).toContain('SystemdCgroup = false');
    expect(t).toContain('runtime_path = "/cache/containerd-shim-runc-v2"');
    expect(t).toContain('sandbox = "localhost/mio-pause:1"');
    expect(t).toContain('conf_dir = "/tmp/mio-node-x/cni/net.d"');
    expect(t).not.toMatch(/\/var\/lib|\/run\/containerd|\/etc\//);
  });

  it('CNI: no masquerade, no gateway role, no default route, only the Service range via the bridge', () => {
    const c = JSON.parse(cniConflist(layout));
    const bridge = c.plugins[0];
    expect(bridge).toMatchObject({ type: 'bridge', bridge: 'mio-br0', ipMasq: false, isGateway: false });
    expect(bridge.isDefaultGateway).toBe(false);
    expect(bridge.ipam.routes).toEqual([{ dst: '10.0.0.0/24', gw: '10.244.77.1' }]);
    expect(bridge.ipam.dataDir).toBe('/tmp/mio-node-x/cni/ipam');
  });

  it('kubelet: cgroup v1 allowed, cgroupfs, oom_score_adj 0, no host resolv.conf', () => {
    expect(yaml.load(kubeletConfig(layout))).toMatchObject({
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      oomScoreAdj: 0,
      resolvConf: '',
      readOnlyPort: 0,
      address: '10.244.77.1',
      containerRuntimeEndpoint: 'unix:///tmp/mio-node-x/containerd.sock',
      authentication: { anonymous: { enabled: false } },
    });
  });

  it('kube-proxy: iptables, no sysctl changes, no masquerade of everything', () => {
    expect(yaml.load(kubeProxyConfig(layout))).toMatchObject({
      mode: 'iptables',
      clusterCIDR: '10.244.77.0/24',
      oomScoreAdj: 0,
      conntrack: { maxPerCore: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      iptables: { localhostNodePorts: false, masqueradeAll: false },
    });
  });
});

describe('node teardown parsers', () => {
  const save = [
    '-P FORWARD ACCEPT',
    '-N KUBE-FORWARD',
    '-N MIO-NODE-GUARD',
    '-N NETAVARK-FORWARD',
    '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    '-A FORWARD -j MIO-NODE-GUARD',
    '-A FORWARD -j NETAVARK-FORWARD',
    '-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT',
    '-A MIO-NODE-GUARD -i mio-br0 ! -o mio-br0 -j DROP',
  ].join('\n');

  it('lists only chains with our prefixes', () =>
    expect(chainsIn(save, 'iptables/filter')).toEqual([
      'iptables/filter/KUBE-FORWARD',
      'iptables/filter/MIO-NODE-GUARD',
    ]));

  it('finds the jumps into our chains from other chains, quotes kept as one argument', () =>
    expect(jumpRules(save, new Set(['KUBE-FORWARD', 'MIO-NODE-GUARD']))).toEqual([
      ['FORWARD', '-m', 'comment', '--comment', 'kubernetes forwarding rules', '-j', 'KUBE-FORWARD'],
      ['FORWARD', '-j', 'MIO-NODE-GUARD'],
    ]));

  it('splits an iptables -S line', () =>
    expect(splitArgs('-A X --comment "a \\"b\\" c" -j Y')).toEqual(['-A', 'X', '--comment', 'a \\"b\\" c', '-j', 'Y']));

  it('lists mounts under the node dir, deepest first, and nothing outside it', () => {
    const info = [
      '22 1 0:21 / / rw - ext4 /dev/vda rw',
      '30 22 0:40 / /tmp/mio-node-x/kubelet/pods/u/volumes/kubernetes.io~projected/t rw - tmpfs tmpfs rw',
      '31 22 0:41 / /tmp/mio-node-x/containerd/state/netns/cni-1 rw - nsfs nsfs rw',
      '32 22 0:42 / /tmp/mio-node-xy rw - tmpfs tmpfs rw',
    ].join('\n');
    expect(mountsUnder(info, '/tmp/mio-node-x')).toEqual([
      '/tmp/mio-node-x/containerd/state/netns/cni-1',
      '/tmp/mio-node-x/kubelet/pods/u/volumes/kubernetes.io~projected/t',
    ]);
  });
});
