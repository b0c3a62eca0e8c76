// Which Service ports serve TLS (DESIGN16): appProtocol, port name, or the machineidentity.io/tls-ports annotation.
import { describe, it, expect } from '@jest/globals';
import { isTlsPort, listedPorts, tlsPorts } from '../../src/validation/tls-ports.ts';
import type { ServicePortRef } from '../../src/validation/projections.ts';

const port = (name: string, n: number, appProtocol?: string): ServicePortRef => ({
  name,
  port: n,
  ...(appProtocol ? { appProtocol } : {}),
});

describe('isTlsPort', () => {
  it.each([
    { name: 'appProtocol https', p: port('web', 8443, 'https'), want: true },
    { name: 'appProtocol TLS (case)', p: port('', 9000, 'TLS'), want: true },
    { name: 'appProtocol grpcs', p: port('rpc', 9000, 'grpcs'), want: true },
    { name: 'appProtocol h2 (ALPN h2 is TLS)', p: port('rpc', 9000, 'h2'), want: true },
    { name: 'appProtocol h2c (cleartext)', p: port('rpc', 9000, 'h2c'), want: false },
    { name: 'appProtocol kubernetes.io/wss', p: port('ws', 9000, 'kubernetes.io/wss'), want: false },
    { name: 'appProtocol http', p: port('web', 80, 'http'), want: false },
    { name: 'name https', p: port('https', 8443), want: true },
    { name: 'name tls', p: port('tls', 8443), want: true },
    { name: 'name grpcs', p: port('grpcs', 8443), want: true },
    { name: 'name https-webhook (the chart)', p: port('https-webhook', 443), want: true },
    { name: 'name tls-metrics', p: port('tls-metrics', 9443), want: true },
    { name: 'name httpsfoo is not https-', p: port('httpsfoo', 9443), want: false },
    { name: 'name http', p: port('http', 80), want: false },
    { name: 'unnamed 443 without a hint', p: port('', 443), want: false },
  ])('$name', ({ p, want }) => expect(isTlsPort(p, new Set())).toBe(want));
});

describe('the tls-ports annotation', () => {
  const ports = [port('admin', 9000), port('metrics', 9090), port('', 8443), port('web', 80)];
  it.each([
    { ann: 'admin', want: ['admin'] },
    { ann: ' admin , 8443 ', want: ['admin', ''] },
    { ann: '9090', want: ['metrics'] },
    { ann: 'ADMIN', want: ['admin'] },
    { ann: '', want: [] },
    { ann: ',,,', want: [] },
    { ann: 'nope,1', want: [] },
  ])('$ann', ({ ann, want }) => expect(tlsPorts(ports, ann).map((p) => p.name)).toEqual(want));
  it('an empty port name never matches an empty entry', () => {
    expect(listedPorts(' , ')).toEqual(new Set());
    expect(tlsPorts([port('', 80)], ',')).toEqual([]);
  });
  it('reads at most 100 entries', () => {
    const ann = [...Array(200).keys()].map((i) => `p${i}`).join(',');
    expect(listedPorts(ann).size).toBe(100);
  });
});
