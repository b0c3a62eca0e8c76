import { describe, it, expect } from '@jest/globals';
import { chartSets, localWebhook, operatorEnv } from '../../bench/lib/chart-env.ts';

const deployment = (env: unknown[]): Record<string, unknown> => ({
  kind: 'Deployment',
  metadata: { name: 'mio-machine-identity-operator' },
  spec: {
    template: {
      spec: {
        containers: [
          { name: 'sidecar', env: [] },
          { name: 'operator', env },
        ],
      },
    },
  },
});
const refs = { 'metadata.namespace': 'mio-bench', 'metadata.name': 'mio-bench-0', 'status.podIP': '127.0.0.1' };

describe('operatorEnv', () => {
  it('takes values as rendered and resolves fieldRefs as the kubelet would', () => {
    const objects = [
      { kind: 'ServiceAccount', metadata: { name: 'x' } },
      deployment([
        { name: 'MIO_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'MIO_LOG_LEVEL', value: 'info' },
        { name: 'MIO_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'NODE_OPTIONS', value: '--max-old-space-size=192' },
        { name: 'MIO_VALIDATION_ALLOWED_CIDRS', value: '' },
      ]),
    ];
    expect(operatorEnv(objects, refs)).toEqual({
      MIO_NAMESPACE: 'mio-bench',
      MIO_LOG_LEVEL: 'info',
      MIO_POD_IP: '127.0.0.1',
      NODE_OPTIONS: '--max-old-space-size=192',
      MIO_VALIDATION_ALLOWED_CIDRS: '',
    });
  });
  it.each([
    [
      'a fieldRef it cannot resolve',
      [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
      /spec.nodeName/,
    ],
    [
      'a Secret reference',
      [{ name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
      /only value and fieldRef/,
    ],
  ])('refuses %s', (_what, env, err) => expect(() => operatorEnv([deployment(env)], refs)).toThrow(err));
  it('refuses a chart without the operator container', () =>
    expect(() => operatorEnv([{ kind: 'Service' }], refs)).toThrow(/no Deployment/));
});

describe('localWebhook', () => {
  const vwc = {
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'mio-machine-identity-operator' },
    webhooks: [
      {
        name: 'a',
        failurePolicy: 'Fail',
        clientConfig: { service: { name: 's', namespace: 'n', path: '/validate', port: 443 } },
      },
      { name: 'b', failurePolicy: 'Ignore', clientConfig: { service: { name: 's', namespace: 'n', port: 443 } } },
    ],
  };
  it('points every webhook at the local URL and keeps the rest as rendered', () => {
    const out = localWebhook([vwc], 'https://127.0.0.1:9443');
    expect(out.metadata?.name).toBe('mio-machine-identity-operator');
    expect(out.webhooks?.map((w) => [w.name, w.failurePolicy, w.clientConfig])).toEqual([
      ['a', 'Fail', { url: 'https://127.0.0.1:9443/validate' }],
      ['b', 'Ignore', { url: 'https://127.0.0.1:9443' }],
    ]);
    expect(vwc.webhooks[0]!.clientConfig).toHaveProperty('service'); // the rendered object is not changed
  });
  it('refuses a render without a webhook configuration', () =>
    expect(() => localWebhook([], 'https://127.0.0.1:1')).toThrow(/webhook.enabled=false/));
});

describe('chartSets', () => {
  it('turns chart.<key>=<value> params into helm --set values and ignores the others', () =>
    expect(
      chartSets({ n: '1000', 'chart.workers': '32', 'chart.inventory.enabled': 'false', profile: 'chart' }),
    ).toEqual(['workers=32', 'inventory.enabled=false']));
});
