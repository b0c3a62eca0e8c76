// `npm run cluster:up / dev -- --node=real`: the flag, what cluster:up does with a cluster already running,
// and the pod-certificate recipe dev prints.
import { describe, it, expect } from '@jest/globals';
import { mayTearDownNode, parseNodeFlag, upAction } from '../../scripts/lib/node-mode.ts';
import { podCertificateDemo } from '../../scripts/lib/pod-certificate-demo.ts';

describe('--node', () => {
  it.each([
    [[], 'kwok'],
    [['--node=real'], 'real'],
    [['--node=kwok'], 'kwok'],
    [['--node', 'real'], 'real'],
  ])('%j -> %s', (argv, mode) => expect(parseNodeFlag(argv)).toBe(mode));

  it.each([
    [['--node=fake'], '--node must be kwok or real, not "fake"'],
    [['--node'], '--node must be kwok or real, not ""'],
    [['--real'], 'unknown argument --real'],
  ])('%j is refused', (argv, msg) => expect(() => parseNodeFlag(argv)).toThrow(msg));
});

describe('cluster:up with a cluster already recorded', () => {
  it.each([
    [undefined, false, 'real', 'start'],
    ['kwok', false, 'real', 'start'],
    ['real', false, 'real', 'start'],
    ['kwok', true, 'kwok', 'reuse'],
    ['real', true, 'real', 'reuse'],
    ['kwok', true, 'real', 'conflict'],
    ['real', true, 'kwok', 'conflict'],
  ] as const)('running %s, up %s, wanted %s -> %s', (running, up, want, action) =>
    expect(upAction(running, up, want).action).toBe(action),
  );

  it('never tears down a running cluster of the other kind; it says what to do', () => {
    expect(upAction('kwok', true, 'real')).toEqual({
      action: 'conflict',
      message:
        'a local cluster with kwok nodes is running; `npm run cluster:down` first, then start it with --node=real',
    });
  });
});

describe('the pod certificate recipe', () => {
  const base = { binding: 'local-ca', namespace: 'demo', image: 'localhost/mio-tls-echo:dev', kubectl: 'k' };
  const demo = podCertificateDemo({ ...base, signerEnabled: false, manifestPath: '/l/pcd.yaml' });

  it("asks the binding's signer for a pod certificate the kubelet writes into the pod", () => {
    expect(demo.signerName).toBe('machineidentity.io/local-ca');
    expect(demo.pod).toMatchObject({
      metadata: { namespace: 'demo' },
      spec: {
        containers: [{ image: 'localhost/mio-tls-echo:dev', imagePullPolicy: 'Never' }],
        volumes: [
          {
            projected: {
              sources: [{ podCertificate: { signerName: 'machineidentity.io/local-ca', keyType: 'ECDSAP256' } }],
            },
          },
        ],
      },
    });
  });

  it('turns the signer on first only when the binding is not one yet', () => {
    expect(demo.steps[0]).toContain(`k patch certificateauthoritybinding local-ca --type merge`);
    expect(demo.steps[0]).toContain('"podCertificates":true');
    const enabled = podCertificateDemo({ ...base, signerEnabled: true, manifestPath: '/l/pcd.yaml' });
    expect(enabled.steps).toEqual(demo.steps.slice(1));
    expect(enabled.steps.some((s) => s.includes('k apply -f /l/pcd.yaml'))).toBe(true);
    expect(enabled.steps.some((s) => s.includes('get podcertificaterequests -A -w'))).toBe(true);
  });

  it('shows the certificates of the bundle, never its private key', () => {
    const show = demo.steps.at(-1) ?? '';
    expect(show).toContain("sed -n '/BEGIN CERTIFICATE/,$p' /var/run/mio/credentialbundle.pem");
    expect(show).not.toMatch(/exec \S+ -- cat /);
  });
});

describe('cluster:down and the host lock', () => {
  it.each([
    [7, undefined, true],
    [7, 7, true],
    [7, 9, false],
  ])('recorded bridge ifindex %s, now %s -> tear down %s', (rec, now, ok) =>
    expect(mayTearDownNode(rec, now)).toBe(ok),
  );
});
