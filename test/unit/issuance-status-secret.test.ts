// The pure parts of what the issuance controller writes: the status it owns (nextStatus) and the
// Secret (desiredSecret), and how drift of the Secret's metadata is told (metadataDrift).
import { describe, it, expect } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { toMachineIdentityModel, type MachineIdentityModel } from '../../src/crds/index.ts';
import { nextStatus, type CertStatus, type StatusChange } from '../../src/controllers/issuance/status.ts';
import {
  ANN,
  desiredSecret,
  LABEL_IDENTITY,
  metadataDrift,
  readRecord,
  type SecretContents,
} from '../../src/controllers/issuance/secret.ts';
import { desiredIdentity } from '../../src/controllers/issuance/evaluate.ts';
import { issuanceTrigger, type TriggerInput } from '../../src/controllers/issuance/triggers.ts';

const now = new Date('2026-01-02T03:04:05Z');
const earlier = '2026-01-01T00:00:00Z';
const identity = (status?: Record<string, unknown>, generation = 2): MachineIdentityModel =>
  toMachineIdentityModel({
    apiVersion: 'machineidentity.io/v1alpha1',
    kind: 'MachineIdentity',
    metadata: { name: 'web', namespace: 'ns', uid: 'u1', generation },
    spec: { secretName: 'web-tls', authorityRef: { name: 'ca' }, dnsNames: ['web.ns.svc'] },
    ...(status ? { status } : {}),
  } as k8s.KubernetesObject);
const cert: CertStatus = {
  serialNumber: '0a',
  fingerprintSHA256: 'F'.repeat(64),
  issuer: 'CN=CA',
  authorityFingerprintSHA256: 'A'.repeat(64),
  notBefore: '2026-01-01T00:00:00Z',
  notAfter: '2026-04-01T00:00:00Z',
  renewalTime: '2026-03-01T00:00:00Z',
  revision: 3,
};
const readyFalse = { type: 'Ready', status: 'False' as const, reason: 'Failed', message: 'CA down' };
const readyTrue = { type: 'Ready', status: 'True' as const, reason: 'Ready', message: 'ok' };
const cond = (type: string, status: string, reason: string, at = earlier): Record<string, unknown> => ({
  type,
  status,
  reason,
  message: 'm',
  lastTransitionTime: at,
  observedGeneration: 1,
});

describe('nextStatus', () => {
  it.each<{ name: string; status?: Record<string, unknown>; change: StatusChange; want: Record<string, unknown> }>([
    {
      name: 'first status: Ready, generation, no failures',
      change: { ready: readyTrue },
      want: { failedIssuanceAttempts: 0 },
    },
    {
      name: 'a certificate replaces every certificate field',
      status: { serialNumber: 'old', revision: 2 },
      change: { ready: readyTrue, cert },
      want: { ...cert, failedIssuanceAttempts: 0 },
    },
    {
      name: 'no certificate in the change keeps the current fields',
      status: { serialNumber: 'old', revision: 2, notAfter: earlier },
      change: { ready: readyTrue },
      want: { serialNumber: 'old', revision: 2, notAfter: earlier, failedIssuanceAttempts: 0 },
    },
    {
      name: 'failures counted with their time',
      change: { ready: readyFalse, failures: { count: 2, lastFailureTime: earlier } },
      want: { failedIssuanceAttempts: 2, lastFailureTime: earlier },
    },
    {
      name: 'failures kept when the change says nothing of them',
      status: { failedIssuanceAttempts: 3, lastFailureTime: earlier },
      change: { ready: readyFalse },
      want: { failedIssuanceAttempts: 3, lastFailureTime: earlier },
    },
    {
      name: 'a success clears the failure time',
      status: { failedIssuanceAttempts: 3, lastFailureTime: earlier },
      change: { ready: readyTrue, failures: { count: 0 } },
      want: { failedIssuanceAttempts: 0 },
    },
    {
      name: 'a pending request is kept',
      status: { pendingRequest: { id: 'u1-2', state: 's' } },
      change: { ready: readyFalse },
      want: { pendingRequest: { id: 'u1-2', state: 's' }, failedIssuanceAttempts: 0 },
    },
  ])('$name', ({ status, change, want }) => {
    const { conditions, ...rest } = nextStatus(identity(status), change, now);
    expect(rest).toEqual({ observedGeneration: 2, ...want });
    expect(conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', change.ready.status, change.ready.reason],
    ]);
  });

  it('clears a pending request with null', () => {
    expect(
      nextStatus(identity({ pendingRequest: { id: 'a', state: 'b' } }), { ready: readyTrue, pendingRequest: null }, now)
        .pendingRequest,
    ).toBeUndefined();
  });

  it('owns Ready, Issuing and PolicyCompliant only; lastTransitionTime moves only when status changes', () => {
    const mi = identity({
      conditions: [cond('Ready', 'False', 'Failed'), cond('Issuing', 'True', 'Pending'), cond('Other', 'True', 'X')],
    });
    const s = nextStatus(mi, { ready: readyFalse }, now);
    expect(s.conditions?.map((c) => c.type)).toEqual(['Ready']);
    expect(s.conditions?.[0]).toMatchObject({ reason: 'Failed', lastTransitionTime: earlier, observedGeneration: 2 });
    const t = nextStatus(
      mi,
      {
        ready: readyTrue,
        issuing: { type: 'Issuing', status: 'False', reason: 'Failed', message: 'x' },
        policy: { type: 'PolicyCompliant', status: 'True', reason: 'Compliant', message: 'y' },
      },
      now,
    );
    expect(t.conditions?.map((c) => c.type).sort()).toEqual(['Issuing', 'PolicyCompliant', 'Ready']);
    expect(t.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe('2026-01-02T03:04:05Z');
  });
});

const contents = (over: Partial<SecretContents> = {}): SecretContents => ({
  identity: { name: 'web', namespace: 'ns', uid: 'u1' },
  secretName: 'web-tls',
  deletionPolicy: 'Delete',
  keyPem: 'KEY',
  keyEncoding: 'PKCS8',
  leafPem: 'LEAF',
  chainPem: ['INT\n'],
  caPem: 'CA',
  serialNumber: '0a',
  notAfter: new Date('2026-04-01T00:00:00.123Z'),
  issuerDN: 'CN=CA',
  revision: 3,
  authority: 'ca',
  authorityFingerprint: 'AA',
  requestedDuration: '90m',
  issuedAt: now,
  ...over,
});
const text = (s: k8s.V1Secret, k: string): string => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8');

describe('desiredSecret', () => {
  it('holds the chain, key and CA, our label and the bookkeeping annotations', () => {
    const s = desiredSecret(contents());
    expect(s).toMatchObject({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'web-tls', namespace: 'ns', labels: { [LABEL_IDENTITY]: 'web' } },
    });
    expect([text(s, 'tls.crt'), text(s, 'tls.key'), text(s, 'ca.crt')]).toEqual(['LEAF\nINT\n', 'KEY', 'CA']);
    expect(s.metadata?.annotations).toMatchObject({
      [ANN.serial]: '0a',
      [ANN.notAfter]: '2026-04-01T00:00:00Z',
      [ANN.revision]: '3',
      [ANN.requestedDuration]: '90m',
      [ANN.keyEncoding]: 'PKCS8',
    });
    expect(s.data?.['keystore.p12']).toBeUndefined();
  });

  it.each([
    { name: 'Delete: owned by the identity (garbage collected)', policy: 'Delete' as const, owners: 1 },
    { name: 'Retain: no owner reference', policy: 'Retain' as const, owners: 0 },
  ])('$name', ({ policy, owners }) => {
    const refs = desiredSecret(contents({ deletionPolicy: policy })).metadata?.ownerReferences ?? [];
    expect(refs).toHaveLength(owners);
    if (owners) expect(refs[0]).toMatchObject({ kind: 'MachineIdentity', uid: 'u1', controller: true });
  });

  it('the template and the owner team are added; our label and annotations win over the template', () => {
    const s = desiredSecret(
      contents({
        ownerTeam: 'payments',
        template: { labels: { app: 'web', [LABEL_IDENTITY]: 'x' }, annotations: { [ANN.serial]: 'x', note: 'n' } },
      }),
    );
    expect(s.metadata?.labels).toEqual({ app: 'web', [LABEL_IDENTITY]: 'web' });
    expect(s.metadata?.annotations).toMatchObject({ note: 'n', [ANN.serial]: '0a', [ANN.ownerTeam]: 'payments' });
  });

  it('keystores when given; readRecord reads back what it wrote', () => {
    const s = desiredSecret(contents({ keystore: Buffer.from('K'), truststore: Buffer.from('T') }));
    expect([text(s, 'keystore.p12'), text(s, 'truststore.p12')]).toEqual(['K', 'T']);
    expect(readRecord(s)).toEqual({
      revision: 3,
      authority: 'ca',
      authorityFingerprint: 'AA',
      requestedDuration: '90m',
      requestedDurationMs: 90 * 60_000,
      issuedAt: now,
    });
  });
});

describe('metadataDrift', () => {
  const want = desiredSecret(contents());
  const edit = (f: (s: k8s.V1Secret) => void): k8s.V1Secret => {
    const s = structuredClone(want);
    f(s);
    return s;
  };
  it.each<[string, (s: k8s.V1Secret) => void, string | undefined]>([
    ['nothing changed', () => undefined, undefined],
    [
      'extra labels and annotations of others are fine',
      (s) => {
        s.metadata!.labels!.extra = 'x';
        s.metadata!.annotations!.extra = 'x';
      },
      undefined,
    ],
    [
      'issued-at is not compared',
      (s) => {
        s.metadata!.annotations![ANN.issuedAt] = 'x';
      },
      undefined,
    ],
    [
      'a removed label',
      (s) => {
        delete s.metadata!.labels![LABEL_IDENTITY];
      },
      `label ${LABEL_IDENTITY}`,
    ],
    [
      'a changed annotation',
      (s) => {
        s.metadata!.annotations![ANN.serial] = 'ff';
      },
      `annotation ${ANN.serial}`,
    ],
    [
      'the owner reference removed',
      (s) => {
        s.metadata!.ownerReferences = [];
      },
      'ownerReferences',
    ],
    [
      'a keystore that should not be there',
      (s) => {
        s.data!['keystore.p12'] = 'eA==';
      },
      'data keystore.p12',
    ],
    [
      'another ca.crt',
      (s) => {
        s.data!['ca.crt'] = 'eA==';
      },
      'data ca.crt',
    ],
    [
      'another type',
      (s) => {
        s.type = 'Opaque';
      },
      'type',
    ],
  ])('%s', (_name, f, drift) => {
    expect(metadataDrift(edit(f), want)).toBe(drift);
  });

  it('ca.crt is not compared when asked not to (only digests at hand); Retain wants no owner of our kind', () => {
    expect(
      metadataDrift(
        edit((s) => {
          s.data!['ca.crt'] = 'eA==';
        }),
        want,
        { compareCa: false },
      ),
    ).toBeUndefined();
    const retain = desiredSecret(contents({ deletionPolicy: 'Retain' }));
    expect(metadataDrift(want, retain)).toBe('ownerReferences');
  });
});

describe('a duration is compared by its length, not its spelling', () => {
  // the Secret records the duration string it was issued for; the spec may say the same length another way
  const input = (recorded: string, spec: string): TriggerInput => {
    const mi = toMachineIdentityModel({
      apiVersion: 'machineidentity.io/v1alpha1',
      kind: 'MachineIdentity',
      metadata: { name: 'web', namespace: 'ns', uid: 'u1' },
      spec: { secretName: 'web-tls', authorityRef: { name: 'ca' }, dnsNames: ['web.ns.svc'], duration: spec },
    } as k8s.KubernetesObject);
    if (!mi.spec) throw mi.invalid;
    const notBefore = new Date(now.getTime() - 60_000);
    return {
      now,
      desired: desiredIdentity(mi.spec, 'ca'),
      secretExists: true,
      hasData: true,
      keyMatches: true,
      distrusted: new Set(),
      record: readRecord(desiredSecret(contents({ requestedDuration: recorded }))),
      statusRevision: 3,
      cert: {
        serialNumber: '0a',
        notBefore,
        notAfter: new Date(now.getTime() + 3_600_000),
        dnsNames: ['web.ns.svc'],
        ipAddresses: [],
        uris: [],
        emailAddresses: [],
        isCA: false,
        keyAlgorithm: 'ECDSA',
        keySize: 256,
      },
    };
  };
  it.each([
    ['90m', '1h30m', undefined],
    ['1h30m', '90m', undefined],
    ['5400s', '1h30m', undefined],
    ['2160h', '2160h0m', undefined],
    ['90m', '2h', 'SpecChanged'],
  ])('recorded %s, spec %s', (recorded, spec, reason) => {
    expect(issuanceTrigger(input(recorded, spec))?.reason).toBe(reason);
  });
});
