// Events are best effort, but a write the API server refused for a passing reason is tried again in
// the background; a refusal that will not pass (403) is not. A local HTTP server plays the API server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import pino from 'pino';
import { recordEvent } from '../../src/controllers/events.ts';
import type { OperatorContext } from '../../src/controllers/context.ts';

let server: Server;
let answers: number[] = [];
const seen: Array<{ method: string; url: string; reason?: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const parsed = body ? (JSON.parse(body) as { reason?: string }) : {};
      seen.push({ method: req.method ?? '', url: req.url ?? '', reason: parsed.reason });
      const code = answers.shift() ?? 201;
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(
        code < 300
          ? JSON.stringify({ metadata: { name: `ev-${seen.length}`, namespace: 'default' } })
          : JSON.stringify({ kind: 'Status', code, reason: 'TooBusy', message: 'busy' }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function context(): OperatorContext {
  const kc = new k8s.KubeConfig();
  const { port } = server.address() as AddressInfo;
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return {
    kc,
    now: () => new Date(),
    log: pino({ level: 'silent' }),
    config: { identity: 'test' },
  } as unknown as OperatorContext;
}

const waitUntil = async (ok: () => boolean, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
};

describe('recordEvent', () => {
  const o = { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', namespace: 'default', uid: 'u1' };

  it('tries a write refused with 503 again in the background, and the Event is created', async () => {
    seen.length = 0;
    answers = [503];
    const ctx = context();
    await recordEvent(ctx, o, 'Warning', 'Busy', 'first try refused');
    expect(seen).toHaveLength(1);
    await waitUntil(() => seen.length === 2, 3000);
    expect(seen.map((r) => r.method)).toEqual(['POST', 'POST']);
    expect(seen[1]?.reason).toBe('Busy');
    // recorded: the same reason again is a bump of that Event, not a new one
    await recordEvent(ctx, o, 'Warning', 'Busy', 'again');
    expect(seen[2]).toMatchObject({ method: 'PATCH', url: '/api/v1/namespaces/default/events/ev-2' });
  });

  it('does not try again a write refused with 403', async () => {
    seen.length = 0;
    answers = [403];
    await recordEvent(context(), o, 'Normal', 'Forbidden', 'not allowed');
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen).toHaveLength(1);
  });
});

describe('recordEvent rate limit', () => {
  it("is per involved kind: a flood of one kind's Events does not drop another kind's", async () => {
    seen.length = 0;
    answers = [];
    const ctx = context();
    for (let i = 0; i < 150; i++)
      await recordEvent(
        ctx,
        { apiVersion: 'machineidentity.io/v1alpha1', kind: 'MachineIdentity', name: `id-${i}`, namespace: 'default' },
        'Warning',
        'AuthorityNotFound',
        'no such binding',
      );
    expect(seen.length).toBeGreaterThanOrEqual(100); // the burst (plus what refilled meanwhile)
    expect(seen.length).toBeLessThan(150); // the rest dropped
    const before = seen.length;
    await recordEvent(
      ctx,
      { apiVersion: 'machineidentity.io/v1alpha1', kind: 'CertificateAuthorityBinding', name: 'ca' },
      'Warning',
      'CASecretMissing',
      'the CA Secret is gone',
    );
    expect(seen.length).toBe(before + 1);
    expect(seen.at(-1)?.reason).toBe('CASecretMissing');
  });
});
