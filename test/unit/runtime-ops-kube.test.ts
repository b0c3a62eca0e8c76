import { describe, it, expect } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Registry, Counter } from 'prom-client';
import { startOpsServer } from '../../src/runtime/ops-server.ts';
import {
  isAlreadyExists,
  isConflict,
  isGone,
  isNotFound,
  kubeConfigFromEnv,
  toKubeError,
} from '../../src/runtime/kube.ts';

describe('ops server', () => {
  it('serves /metrics, /healthz and /readyz on an ephemeral port', async () => {
    const registry = new Registry();
    new Counter({ name: 'demo_total', help: 'demo', registers: [registry] }).inc();
    let ready = false;
    const srv = await startOpsServer({ host: '127.0.0.1', port: 0, registry, ready: () => ready });
    try {
      expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(srv.url).not.toMatch(/:0$/);
      const metrics = await fetch(`${srv.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('demo_total 1');
      expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${srv.url}/readyz`)).status).toBe(503);
      ready = true;
      expect((await fetch(`${srv.url}/readyz`)).status).toBe(200);
      expect((await fetch(`${srv.url}/nope`)).status).toBe(404);
    } finally {
      await srv.close();
    }
  });
});

describe('kube errors', () => {
  const status = (code: number, reason: string): k8s.ApiException<string> =>
    new k8s.ApiException(
      code,
      `HTTP-Code: ${code}\nMessage: x`,
      JSON.stringify({
        kind: 'Status',
        code,
        reason,
        message: `${reason} msg`,
        details: { causes: [{ field: 'spec.x', reason: 'FieldValueInvalid' }] },
      }),
      {},
    );

  it('parses the Status body of an ApiException', () => {
    expect(toKubeError(status(422, 'Invalid'))).toEqual({
      code: 422,
      reason: 'Invalid',
      message: 'Invalid msg',
      causes: [{ field: 'spec.x', reason: 'FieldValueInvalid' }],
    });
  });

  it('classifies codes and reasons', () => {
    expect(isNotFound(status(404, 'NotFound'))).toBe(true);
    expect(isConflict(status(409, 'Conflict'))).toBe(true);
    expect(isConflict(status(409, 'AlreadyExists'))).toBe(false);
    expect(isAlreadyExists(status(409, 'AlreadyExists'))).toBe(true);
    expect(isGone(status(410, 'Expired'))).toBe(true);
    expect(isNotFound(new Error('fetch failed'))).toBe(false);
  });

  it('survives a non-JSON body and non-errors', () => {
    expect(toKubeError(new k8s.ApiException(500, 'HTTP-Code: 500\nMessage: boom', '<html>', {}))).toMatchObject({
      code: 500,
      message: 'HTTP-Code: 500',
    });
    expect(toKubeError('weird')).toMatchObject({ code: undefined, message: 'weird' });
  });
});

describe('kubeConfigFromEnv', () => {
  it('prefers KUBECONFIG', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'kc-')), 'config');
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: k, cluster: {server: "https://10.1.2.3:6443"}}]\n' +
        'users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n',
    );
    expect(kubeConfigFromEnv({ KUBECONFIG: file }).getCurrentCluster()?.server).toBe('https://10.1.2.3:6443');
  });
});
