// rolloutFailure: which errors of a workload restart become a RolloutForbidden Event (no retry loop)
// and which are retried as usual.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { rolloutFailure, type Workload } from '../../src/controllers/rollout.ts';
import { Reason } from '../../src/crds/reasons.ts';

const web: Workload = { kind: 'Deployment', name: 'web' };
const apiError = (code: number, message: string): k8s.ApiException<unknown> =>
  new k8s.ApiException(
    code,
    `HTTP-Code: ${code}`,
    JSON.stringify({ kind: 'Status', code, reason: code === 403 ? 'Forbidden' : 'Other', message }),
    {},
  );

describe('rolloutFailure', () => {
  it('turns an RBAC denial into RolloutForbidden naming the workload, the namespace and the chart value', () => {
    const f = rolloutFailure(
      apiError(
        403,
        'deployments.apps "web" is forbidden: User "system:serviceaccount:mio:mio" cannot get resource "deployments"',
      ),
      web,
      'payments',
    );
    expect(f?.reason).toBe(Reason.RolloutForbidden);
    expect(f?.message).toContain('Deployment payments/web');
    expect(f?.message).toContain('rbac.rollout.scope=cluster');
    expect(f?.message).toContain('payments in rbac.rollout.namespaces');
    expect(f?.message).toContain('cannot get resource "deployments"');
  });

  it.each([
    ['a conflict', apiError(409, 'the object has been modified')],
    ['a server error', apiError(500, 'etcdserver: request timed out')],
    ['a throttled request', apiError(429, 'too many requests')],
    ['a network error', new Error('connect ECONNREFUSED 127.0.0.1:6443')],
    ['a non-error value', 'boom'],
  ])('leaves %s to the normal retry with backoff', (_name, e) => {
    expect(rolloutFailure(e, web, 'payments')).toBeUndefined();
  });
});
