// The chart's clusterName (MIO_CLUSTER_NAME): validated like a label value, and carried by every Event the
// operator records (annotation machineidentity.io/cluster) so Events shipped off-cluster say where they happened.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { recordEvent } from '../../src/controllers/events.ts';
import type { OperatorContext } from '../../src/controllers/context.ts';

describe('MIO_CLUSTER_NAME', () => {
  it.each([
    { value: undefined, want: undefined },
    { value: '', want: undefined },
    { value: 'prod-eu-1', want: 'prod-eu-1' },
    { value: 'Prod_EU.1', want: 'Prod_EU.1' },
  ])('$value → $want', ({ value, want }) =>
    expect(loadConfig(value === undefined ? {} : { MIO_CLUSTER_NAME: value }).clusterName).toBe(want),
  );

  it.each(['-a', 'a b', 'a/b', 'x'.repeat(64), 'a\n'])('refuses %j', (value) =>
    expect(() => loadConfig({ MIO_CLUSTER_NAME: value })).toThrow(/MIO_CLUSTER_NAME/),
  );
});

describe('Events carry the cluster name', () => {
  let server: Server;
  const bodies: { metadata?: { annotations?: Record<string, string> } }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(body) as (typeof bodies)[number]);
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ metadata: { name: `ev-${bodies.length}`, namespace: 'default' } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const context = (clusterName?: string): OperatorContext => {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true },
      ],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const config = { identity: 'test', ...(clusterName ? { clusterName } : {}) };
    return { kc, now: () => new Date(), log: pino({ level: 'silent' }), config } as unknown as OperatorContext;
  };
  const o = { apiVersion: 'v1', kind: 'Secret', name: 'web-tls', namespace: 'shop', uid: 'u1' };

  it('with clusterName: the annotation', async () => {
    await recordEvent(context('b'), o, 'Warning', 'Expired', 'expired');
    expect(bodies.at(-1)?.metadata?.annotations).toEqual({ 'machineidentity.io/cluster': 'b' });
  });

  it('without: no annotation', async () => {
    await recordEvent(context(), o, 'Warning', 'Expired', 'expired');
    expect(bodies.at(-1)?.metadata?.annotations).toBeUndefined();
  });
});
