// The address guard (DESIGN16): an EndpointSlice address is dialled only when it is the IP of the Pod
// its targetRef names in the slice's namespace, or inside an allowed CIDR; special addresses never,
// unless an allowed CIDR inside their block names them.
import { describe, it, expect } from '@jest/globals';
import { mayDial, podIndex } from '../../src/validation/address-guard.ts';
import type { PodRefs } from '../../src/inventory/model.ts';

const pod = (namespace: string, name: string, ips: string[]): PodRefs => ({
  kind: 'Pod',
  metadata: { namespace, name },
  secrets: [],
  configMaps: [],
  mounted: [],
  ips,
});
const pods = podIndex([
  pod('web', 'web-0', ['10.0.0.5', 'fd00::5']),
  pod('other', 'db-0', ['10.0.0.9']),
  pod('web', 'weird-0', ['127.0.0.1', '169.254.169.254']),
  pod('web', 'done-0', []),
]);
const ref = (name: string, namespace?: string) => ({ kind: 'Pod', name, ...(namespace ? { namespace } : {}) });

describe('mayDial', () => {
  it.each([
    { name: "the Pod's own IP", addr: '10.0.0.5', r: ref('web-0'), allowed: [], want: 'pod' },
    { name: 'its IPv6 IP, written differently', addr: 'fd00:0:0:0:0:0:0:5', r: ref('web-0'), allowed: [], want: 'pod' },
    { name: 'targetRef with the same namespace', addr: '10.0.0.5', r: ref('web-0', 'web'), allowed: [], want: 'pod' },
    { name: 'no targetRef', addr: '10.0.0.5', r: undefined, allowed: [], want: 'no_target_ref' },
    { name: 'a Node targetRef', addr: '10.0.0.5', r: { kind: 'Node', name: 'n' }, allowed: [], want: 'no_target_ref' },
    {
      name: "another namespace's pod, named across namespaces",
      addr: '10.0.0.9',
      r: ref('db-0', 'other'),
      allowed: [],
      want: 'no_target_ref',
    },
    {
      name: "another namespace's pod IP under our pod",
      addr: '10.0.0.9',
      r: ref('web-0'),
      allowed: [],
      want: 'not_the_pod_ip',
    },
    { name: 'an unknown pod', addr: '10.0.0.5', r: ref('ghost'), allowed: [], want: 'pod_unknown' },
    { name: 'a finished pod (no IPs kept)', addr: '10.0.0.7', r: ref('done-0'), allowed: [], want: 'not_the_pod_ip' },
    { name: 'the metadata service', addr: '169.254.169.254', r: ref('web-0'), allowed: [], want: 'special_address' },
    {
      name: 'a pod claiming the metadata IP',
      addr: '169.254.169.254',
      r: ref('weird-0'),
      allowed: [],
      want: 'special_address',
    },
    { name: 'loopback', addr: '127.0.0.1', r: ref('weird-0'), allowed: [], want: 'special_address' },
    { name: 'IPv4-mapped loopback', addr: '::ffff:127.0.0.1', r: ref('weird-0'), allowed: [], want: 'special_address' },
    { name: 'IPv6 loopback', addr: '::1', r: ref('web-0'), allowed: [], want: 'special_address' },
    { name: 'IPv6 link-local', addr: 'fe80::1', r: ref('web-0'), allowed: [], want: 'special_address' },
    { name: 'unspecified', addr: '0.0.0.0', r: ref('web-0'), allowed: [], want: 'special_address' },
    { name: 'IPv6 unspecified', addr: '::', r: ref('web-0'), allowed: [], want: 'special_address' },
    { name: 'multicast', addr: '224.0.0.1', r: ref('web-0'), allowed: [], want: 'special_address' },
    { name: 'IPv6 multicast', addr: 'ff02::1', r: ref('web-0'), allowed: [], want: 'special_address' },
    {
      name: 'the API server (no pod has its IP)',
      addr: '10.96.0.1',
      r: ref('web-0'),
      allowed: [],
      want: 'not_the_pod_ip',
    },
    { name: 'the API server, no targetRef', addr: '192.168.1.10', r: undefined, allowed: [], want: 'no_target_ref' },
    { name: 'not an IP', addr: 'kubernetes.default', r: ref('web-0'), allowed: [], want: 'not_an_ip' },
    { name: 'a zone id', addr: 'fe80::1%eth0', r: ref('web-0'), allowed: [], want: 'not_an_ip' },
    { name: 'empty', addr: '', r: ref('web-0'), allowed: [], want: 'not_an_ip' },
    {
      name: 'inside an allowed CIDR, no pod',
      addr: '10.200.1.2',
      r: undefined,
      allowed: ['10.200.0.0/16'],
      want: 'allowed_cidr',
    },
    { name: 'IPv6 allowed CIDR', addr: 'fd10::2', r: undefined, allowed: ['fd10::/64'], want: 'allowed_cidr' },
    {
      name: 'outside the allowed CIDR',
      addr: '10.201.1.2',
      r: undefined,
      allowed: ['10.200.0.0/16'],
      want: 'no_target_ref',
    },
    {
      name: 'an invalid allowed CIDR is ignored',
      addr: '10.200.1.2',
      r: undefined,
      allowed: ['10.200.0.0/99', 'x'],
      want: 'no_target_ref',
    },
    {
      name: 'loopback named by an allowed CIDR',
      addr: '127.0.0.2',
      r: undefined,
      allowed: ['127.0.0.0/8'],
      want: 'allowed_cidr',
    },
    { name: 'loopback /32 allowed', addr: '127.0.0.1', r: undefined, allowed: ['127.0.0.1/32'], want: 'allowed_cidr' },
    {
      name: '0.0.0.0/0 does not open the metadata service',
      addr: '169.254.169.254',
      r: undefined,
      allowed: ['0.0.0.0/0'],
      want: 'special_address',
    },
    {
      name: '0.0.0.0/0 does not open loopback',
      addr: '127.0.0.1',
      r: ref('weird-0'),
      allowed: ['0.0.0.0/0'],
      want: 'special_address',
    },
    { name: '::/0 does not open IPv6 loopback', addr: '::1', r: undefined, allowed: ['::/0'], want: 'special_address' },
    {
      name: '0.0.0.0/0 opens an ordinary address',
      addr: '10.9.9.9',
      r: undefined,
      allowed: ['0.0.0.0/0'],
      want: 'allowed_cidr',
    },
  ])('$name → $want', ({ addr, r, allowed, want }) => {
    expect(mayDial(addr, 'web', r, pods, allowed).reason).toBe(want);
  });

  it('names the Pod it found (for the EndpointAddress)', () => {
    const d = mayDial('10.0.0.5', 'web', ref('web-0'), pods, []);
    expect(d).toMatchObject({ ok: true, pod: { metadata: { name: 'web-0' } } });
    const c = mayDial('10.0.0.5', 'web', ref('web-0'), pods, ['10.0.0.0/24']);
    expect(c).toMatchObject({ ok: true, reason: 'allowed_cidr', pod: { metadata: { name: 'web-0' } } });
  });
  it('never throws on hostile input, and cuts what it echoes', () => {
    const d = mayDial('x'.repeat(10_000), 'web', ref('web-0'), pods, ['1.2.3.4/33', '', '::/129']);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.message.length).toBeLessThan(120);
  });
});
