// The typed model the informers hold: specs resolved once (durations in ms, defaults), invalid specs
// carrying their ValidationError, statuses parsed leniently, and one parse per resourceVersion.
import { describe, it, expect, afterEach } from '@jest/globals';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import pino from 'pino';
import { Informer } from '../../src/runtime/informer.ts';
import {
  DEFAULT_DURATION_MS,
  identityFields,
  invalidBindingSpecMessage,
  parseMachineIdentity,
  toBindingModel,
  toMachineIdentityModel,
  type MachineIdentityModel,
} from '../../src/crds/index.ts';

const H = 3_600_000;
const mi = (
  spec: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): k8s.KubernetesObject & Record<string, unknown> => ({
  apiVersion: 'machineidentity.io/v1alpha1',
  kind: 'MachineIdentity',
  metadata: {
    name: 'web',
    namespace: 'team-a',
    uid: 'u1',
    resourceVersion: '1',
    managedFields: [{ manager: 'kubectl' }],
  },
  spec: { secretName: 'web-tls', authorityRef: { name: 'ca' }, dnsNames: ['web.team-a.svc'], ...spec },
  ...extra,
});
const cab = (
  spec: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): k8s.KubernetesObject & Record<string, unknown> => ({
  apiVersion: 'machineidentity.io/v1alpha1',
  kind: 'CertificateAuthorityBinding',
  metadata: { name: 'ca', resourceVersion: '1' },
  spec,
  ...extra,
});

describe('MachineIdentity model', () => {
  it.each([
    { name: 'no duration: left to the policies', spec: {}, durationMs: undefined, renewBeforeMs: undefined },
    { name: '90m', spec: { duration: '90m' }, durationMs: 1.5 * H, renewBeforeMs: undefined },
    { name: '1h30m equals 90m', spec: { duration: '1h30m' }, durationMs: 1.5 * H, renewBeforeMs: undefined },
    { name: 'renewBefore', spec: { duration: '24h', renewBefore: '8h' }, durationMs: 24 * H, renewBeforeMs: 8 * H },
    {
      name: 'fractions',
      spec: { duration: '1.5h', renewBefore: '30m0s' },
      durationMs: 1.5 * H,
      renewBeforeMs: 0.5 * H,
    },
  ])('resolves durations: $name', ({ spec, durationMs, renewBeforeMs }) => {
    const m = toMachineIdentityModel(mi(spec));
    expect(m.invalid).toBeUndefined();
    expect(m.spec?.durationMs).toBe(durationMs);
    expect(m.spec?.renewBeforeMs).toBe(renewBeforeMs);
  });

  it('applies the schema defaults once', () => {
    const m = toMachineIdentityModel(mi({}));
    expect(m.spec).toMatchObject({
      usages: ['serverAuth'],
      isCA: false,
      deletionPolicy: 'Delete',
      privateKey: { algorithm: 'ECDSA', rotationPolicy: 'Always', encoding: 'PKCS8' },
    });
    expect(DEFAULT_DURATION_MS).toBe(2160 * H);
  });

  it('keeps metadata (without managedFields), apiVersion and kind', () => {
    const m = toMachineIdentityModel(mi({}));
    expect(m).toMatchObject({
      apiVersion: 'machineidentity.io/v1alpha1',
      kind: 'MachineIdentity',
      metadata: { name: 'web', namespace: 'team-a', uid: 'u1', resourceVersion: '1' },
    });
    expect(m.metadata.managedFields).toBeUndefined();
  });

  it('an invalid spec carries the same ValidationError the parser gives, and its valid fields for references', () => {
    const raw = mi({ duration: '1h', renewBefore: '2h' });
    const m = toMachineIdentityModel(raw);
    expect(m.spec).toBeUndefined();
    const direct = parseMachineIdentity(raw);
    expect(direct.success).toBe(false);
    expect(m.invalid?.message).toBe(direct.success ? '' : direct.error.message);
    expect(m.invalid?.message).toMatch(/renewBefore must be shorter than duration/);
    expect(identityFields(m)).toMatchObject({ secretName: 'web-tls', authorityRef: { name: 'ca' } });
  });

  it('a field invalid on its own is left out of the partial fields', () => {
    const m = toMachineIdentityModel(mi({ secretName: 'Not_A_Name' }));
    expect(m.invalid?.message).toMatch(/spec\.secretName/);
    expect(identityFields(m).secretName).toBeUndefined();
    expect(identityFields(m).authorityRef).toEqual({ name: 'ca' });
  });

  it.each([
    { name: 'no status', status: undefined, want: undefined },
    { name: 'not an object', status: 'garbage', want: undefined },
    {
      name: 'valid',
      status: { revision: 3, notAfter: '2030-01-01T00:00:00Z' },
      want: { revision: 3, notAfter: '2030-01-01T00:00:00Z' },
    },
    {
      name: 'one bad field is dropped, the rest kept',
      status: { revision: -1, serialNumber: 'ab' },
      want: { serialNumber: 'ab' },
    },
    { name: 'a status the parser cannot read at all is empty', status: { revision: 'x', conditions: 7 }, want: {} },
  ])('parses the status leniently: $name', ({ status, want }) => {
    const m = toMachineIdentityModel(mi({}, status === undefined ? {} : { status }));
    expect(m.status).toEqual(want);
    expect(m.spec).toBeDefined();
  });
});

describe('MachineIdentity model: the spec parsed once per generation', () => {
  const at = (uid: string, generation: number | undefined, spec: Record<string, unknown>, status?: unknown) => {
    const o = mi(spec, status === undefined ? {} : { status });
    Object.assign(o.metadata!, { uid, ...(generation === undefined ? {} : { generation }) });
    return o;
  };
  it.each([
    { name: 'status-only change, same generation: the same parse', gen: [1, 1], same: true },
    { name: 'a new generation: parsed again', gen: [1, 2], same: false },
    { name: 'no generation (not from the API server): parsed every time', gen: [undefined, undefined], same: false },
  ])('$name', ({ gen, same }) => {
    const uid = `g-${gen.join('-')}`;
    const a = toMachineIdentityModel(at(uid, gen[0], { duration: '90m' }));
    const b = toMachineIdentityModel(at(uid, gen[1], { duration: '90m' }, { revision: 2 }));
    expect(b.spec).toEqual(a.spec);
    expect(b.spec === a.spec).toBe(same);
    expect(b.status).toEqual({ revision: 2 });
  });
  it('a spec changed with a new generation is the new spec, valid or not', () => {
    const ok = toMachineIdentityModel(at('g-change', 1, { duration: '90m' }));
    expect(ok.spec?.durationMs).toBe(1.5 * H);
    const bad = toMachineIdentityModel(at('g-change', 2, { duration: '1h', renewBefore: '2h' }));
    expect(bad.spec).toBeUndefined();
    expect(bad.invalid?.message).toMatch(/renewBefore must be shorter than duration/);
    const again = toMachineIdentityModel(at('g-change', 2, { duration: '1h', renewBefore: '2h' }, { revision: 1 }));
    expect(again.invalid).toBe(bad.invalid);
    expect(again.partial).toEqual(bad.partial);
  });
});

describe('CertificateAuthorityBinding model', () => {
  it.each([
    {
      name: 'no durations: caRotation defaults',
      spec: { selfSigned: {} },
      want: {
        caRotation: { propagationDelay: '5m', overlap: '24h', propagationDelayMs: 5 * 60_000, overlapMs: 24 * H },
      },
      maxDurationMs: undefined,
    },
    { name: 'maxDuration', spec: { selfSigned: {}, maxDuration: '48h' }, want: {}, maxDurationMs: 48 * H },
    {
      name: 'caRotation set',
      spec: { selfSigned: {}, caRotation: { propagationDelay: '30s' } },
      want: { caRotation: { propagationDelay: '30s', overlap: '24h', propagationDelayMs: 30_000, overlapMs: 24 * H } },
      maxDurationMs: undefined,
    },
    {
      name: 'ca.generate duration defaulted',
      spec: { ca: { secretRef: { name: 's' }, generate: { commonName: 'CA' } } },
      want: { ca: { secretRef: { name: 's' }, generate: { duration: '87600h', durationMs: 87_600 * H } } },
      maxDurationMs: undefined,
    },
    {
      name: 'signer maxPodCertificateDuration defaulted',
      spec: { selfSigned: {}, signer: { podCertificates: true } },
      want: { signer: { maxPodCertificateDuration: '24h', maxPodCertificateDurationMs: 24 * H } },
      maxDurationMs: undefined,
    },
  ])('resolves durations: $name', ({ spec, want, maxDurationMs }) => {
    const b = toBindingModel(cab(spec));
    expect(b.invalid).toBeUndefined();
    expect(b.spec).toMatchObject(want);
    expect(b.spec?.maxDurationMs).toBe(maxDurationMs);
  });

  it('an invalid spec reaches InvalidSpec with the message it always had (paths relative to spec)', () => {
    const b = toBindingModel(cab({ selfSigned: {}, grants: [{ ipAddresses: ['nope'] }] }));
    expect(b.spec).toBeUndefined();
    expect(b.invalid && invalidBindingSpecMessage(b.invalid)).toMatch(/^invalid spec: grants\.0\.ipAddresses\.0: /);
    expect(toBindingModel(cab({})).invalid && invalidBindingSpecMessage(toBindingModel(cab({})).invalid!)).toBe(
      'invalid spec: spec: exactly one CA backend must be set: selfSigned, ca, acme, vault, stepCA, cfssl, kubernetes',
    );
  });

  it('keeps a status it can read, drops what it cannot', () => {
    const b = toBindingModel(
      cab({ selfSigned: {} }, { status: { identities: 4, caFingerprintSHA256: 'not a fingerprint' } }),
    );
    expect(b.status).toEqual({ identities: 4 });
  });
});

describe('one parse per resourceVersion', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  it('the informer parses an object once per resourceVersion, also across a relist', async () => {
    const v1 = mi({ duration: '90m' });
    const v2 = mi({ duration: '2h' }, { metadata: { ...v1.metadata, resourceVersion: '2' } });
    const lists = [[v1], [v2]];
    const watches: ((res: ServerResponse) => void)[] = [
      // the object changes once, then the watch expires: the relist finds it unchanged
      (res) => {
        res.write(`${JSON.stringify({ type: 'MODIFIED', object: v2 })}\n`);
        res.end(`${JSON.stringify({ type: 'ERROR', object: { code: 410 } })}\n`);
      },
    ];
    let listed = 0;
    server = createServer((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      if (new URL(req.url ?? '/', 'http://x').searchParams.get('watch') !== 'true') {
        const items = lists[Math.min(listed++, lists.length - 1)];
        return void res.end(
          JSON.stringify({
            apiVersion: 'machineidentity.io/v1alpha1',
            kind: 'MachineIdentityList',
            metadata: { resourceVersion: String(listed) },
            items,
          }),
        );
      }
      const next = watches.shift();
      if (next) next(res);
      else res.write(''); // stays open until the informer stops
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true },
      ],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const parsedRvs: string[] = [];
    const inf = new Informer<MachineIdentityModel>({
      kc,
      path: '/apis/machineidentity.io/v1alpha1/machineidentities',
      registry: new Registry(),
      logger: pino({ level: 'silent' }),
      backoff: { initialMs: 10, maxMs: 20 },
      transform: (o) => {
        parsedRvs.push(o.metadata?.resourceVersion ?? '');
        return toMachineIdentityModel(o);
      },
    });
    inf.start();
    await inf.synced;
    const end = Date.now() + 10_000;
    while (listed < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    await inf.stop();
    expect(listed).toBeGreaterThanOrEqual(2);
    expect(parsedRvs).toEqual(['1', '2']);
    expect(inf.get('team-a/web')?.spec?.durationMs).toBe(2 * H);
  });
});
