import { describe, it, expect } from '@jest/globals';
import {
  decideValidate,
  formatValidateTable,
  notProbedSince,
  requestTime,
  type ServedEndpointStatus,
  type ValidatedIdentity,
} from '../../src/cli/validate-decision.ts';
import { formatStatus } from '../../src/cli/status.ts';
import type { EndpointVerdict } from '../../src/validation/types.ts';

const ep = (verdict: EndpointVerdict, extra: Partial<ServedEndpointStatus> = {}): ServedEndpointStatus => ({
  source: 'Service',
  object: 'pay/web',
  address: '10.0.0.1',
  port: 8443,
  sni: 'web.pay.svc',
  servedSerialNumber: verdict === 'Current' ? 'a1' : '9f',
  verdict,
  ...extra,
});
function mi(
  name: string,
  endpoints: ServedEndpointStatus[] | undefined,
  served?: { status: string; reason: string; message?: string },
  extra: { endpointCount?: number; lastProbeTime?: string } = {},
): ValidatedIdentity {
  return {
    metadata: { namespace: 'pay', name },
    status: {
      serialNumber: 'a1',
      ...(served ? { conditions: [{ type: 'Served', message: '', ...served }] } : {}),
      ...(endpoints ? { served: { lastProbeTime: '2026-12-07T05:00:00Z', endpoints, ...extra } } : {}),
    },
  };
}
const lax = { strict: false };
const strict = { strict: true };

describe('decideValidate: exit code', () => {
  it.each([
    { what: 'all Current', ids: [mi('a', [ep('Current'), ep('Current', { address: '10.0.0.2' })])], o: lax, code: 0 },
    { what: 'one Stale of three', ids: [mi('a', [ep('Current'), ep('Stale'), ep('Current')])], o: lax, code: 1 },
    { what: 'Expired', ids: [mi('a', [ep('Expired')])], o: lax, code: 1 },
    { what: 'IncompleteChain', ids: [mi('a', [ep('IncompleteChain')])], o: lax, code: 1 },
    {
      what: 'Untrusted (the Served reason; endpoints have no verdict for it)',
      ids: [mi('a', [ep('Current')], { status: 'False', reason: 'ServingUntrustedCertificate' })],
      o: lax,
      code: 1,
    },
    { what: 'Unreachable warns', ids: [mi('a', [ep('Current'), ep('Unreachable')])], o: lax, code: 0 },
    { what: 'Unreachable with --strict', ids: [mi('a', [ep('Unreachable')])], o: strict, code: 1 },
    { what: 'Pending warns', ids: [mi('a', [ep('Pending')])], o: lax, code: 0 },
    { what: 'Pending with --strict', ids: [mi('a', [ep('Pending')])], o: strict, code: 1 },
    { what: 'AwaitingReload warns', ids: [mi('a', [ep('AwaitingReload')])], o: lax, code: 0 },
    { what: 'AwaitingReload with --strict', ids: [mi('a', [ep('AwaitingReload')])], o: strict, code: 1 },
    {
      what: 'NoEndpoints (nothing serves it)',
      ids: [mi('a', [], { status: 'Unknown', reason: 'NoEndpoints' })],
      o: strict,
      code: 0,
    },
    { what: 'not validated at all', ids: [mi('a', undefined)], o: lax, code: 0 },
    { what: 'not validated, --strict', ids: [mi('a', undefined)], o: strict, code: 1 },
    { what: 'no identities', ids: [], o: strict, code: 0 },
    {
      what: 'a stale one among many current identities',
      ids: [mi('a', [ep('Current')]), mi('b', [ep('Stale')]), mi('c', [ep('Current')])],
      o: lax,
      code: 1,
    },
  ])('$what → $code', ({ ids, o, code }) => {
    expect(decideValidate(ids, o).exitCode).toBe(code);
  });
});

describe('decideValidate: rows and warnings', () => {
  it('one row per (identity, endpoint), with the endpoint as source object address:port', () => {
    const d = decideValidate(
      [mi('web', [ep('Stale'), ep('Current', { address: 'fd00::1', source: 'Ingress', object: 'pay/ing' })])],
      lax,
    );
    expect(d.rows).toEqual([
      {
        namespace: 'pay',
        identity: 'web',
        endpoint: 'Service pay/web 10.0.0.1:8443',
        sni: 'web.pay.svc',
        servedSerial: '9f',
        currentSerial: 'a1',
        verdict: 'Stale',
        message: '',
      },
      expect.objectContaining({ endpoint: 'Ingress pay/ing [fd00::1]:8443', verdict: 'Current' }),
    ]);
    expect(d.warnings).toEqual([]);
  });

  it('an identity without endpoints is one row with the Served reason', () => {
    const d = decideValidate(
      [mi('lone', [], { status: 'Unknown', reason: 'NoEndpoints', message: 'nothing mounts lone-tls' })],
      lax,
    );
    expect(d.rows).toEqual([
      {
        namespace: 'pay',
        identity: 'lone',
        endpoint: '',
        sni: '',
        servedSerial: '',
        currentSerial: 'a1',
        verdict: 'NoEndpoints',
        message: 'nothing mounts lone-tls',
      },
    ]);
  });

  it('warns about unsure endpoints and endpoints not listed in status', () => {
    const d = decideValidate([mi('web', [ep('Unreachable'), ep('Current')], undefined, { endpointCount: 40 })], lax);
    expect(d.warnings).toEqual([
      'pay/web: 1 endpoint(s) not known to serve the current certificate (Unreachable)',
      'pay/web: 38 more endpoint(s) not listed in status (those not current come first)',
    ]);
  });
});

describe('--wait', () => {
  it.each([
    { now: Date.parse('2026-12-07T05:00:00.000Z'), at: '2026-12-07T05:00:00Z' },
    { now: Date.parse('2026-12-07T05:00:00.001Z'), at: '2026-12-07T05:00:01Z' },
    { now: Date.parse('2026-12-07T05:00:00.999Z'), at: '2026-12-07T05:00:01Z' },
  ])('requestTime($now) rounds up to a whole second: $at', ({ now, at }) => expect(requestTime(now)).toBe(at));

  it('waits for identities probed before the request or never', () => {
    const probed = (name: string, lastProbeTime?: string): ValidatedIdentity => ({
      metadata: { namespace: 'pay', name },
      status: lastProbeTime ? { served: { lastProbeTime } } : {},
    });
    expect(
      notProbedSince(
        [
          probed('same-second', '2026-12-07T05:00:01Z'),
          probed('after', '2026-12-07T05:00:09Z'),
          probed('before', '2026-12-07T05:00:00Z'),
          probed('never'),
          probed('garbage', 'yesterday'),
        ],
        '2026-12-07T05:00:01Z',
      ),
    ).toEqual(['pay/before', 'pay/never', 'pay/garbage']);
  });
});

describe('formatValidateTable', () => {
  it('has the documented columns, shortens long serials, shows - for empty cells', () => {
    const d = decideValidate(
      [
        mi('web', [ep('Stale', { servedSerialNumber: '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567' })]),
        mi('lone', [], { status: 'Unknown', reason: 'NoEndpoints' }),
      ],
      lax,
    );
    const lines = formatValidateTable(d.rows).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE +IDENTITY +ENDPOINT +SNI +SERVED SERIAL +CURRENT SERIAL +VERDICT$/);
    expect(lines[1]).toMatch(
      /^pay +web +Service pay\/web 10\.0\.0\.1:8443 +web\.pay\.svc +0a1b2c3d4e5f6071… +a1 +Stale$/,
    );
    expect(lines[2]).toMatch(/^pay +lone +- +- +- +a1 +NoEndpoints$/);
  });

  it('prints no terminal control characters from status', () => {
    const d = decideValidate([mi('web', [ep('Current', { sni: 'evil\u001b[2J\u0007.example.com' })])], lax);
    const out = formatValidateTable(d.rows);
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(out).toContain('evil?[2J?.example.com');
  });

  it('says so when nothing was selected', () => expect(formatValidateTable([])).toBe('No MachineIdentities found.\n'));
});

describe('kubectl mi status: Served', () => {
  it('shows the Served condition, the endpoints and what to do', () => {
    const id = mi('web', [ep('Stale', { message: 'replaced 14m ago' }), ep('Current', { address: '10.0.0.2' })], {
      status: 'False',
      reason: 'ServingStaleCertificate',
      message: '1 of 2 endpoints of Service web still serve serial 9f (replaced 14m ago)',
    });
    const out = formatStatus({ identity: { ...id, metadata: id.metadata }, events: [], explanation: 'ok' } as never);
    expect(out).toContain(
      '  Served:          False  ServingStaleCertificate  1 of 2 endpoints of Service web still serve serial 9f (replaced 14m ago)',
    );
    expect(out).toContain('  Served at (2 endpoints, probed 2026-12-07T05:00:00Z):');
    expect(out).toContain(
      '    Stale           Service pay/web 10.0.0.1:8443 (SNI web.pay.svc) serial 9f: replaced 14m ago',
    );
    expect(out).toContain('    Current         Service pay/web 10.0.0.2:8443 (SNI web.pay.svc) serial a1');
    expect(out).toMatch(/ {2}Served: An endpoint still serves an earlier certificate/);
  });

  it('NoEndpoints without status.served still explains itself', () => {
    const id = mi('lone', undefined, { status: 'Unknown', reason: 'NoEndpoints', message: 'no endpoint found' });
    const out = formatStatus({ identity: id, events: [], explanation: 'ok' } as never);
    expect(out).toContain('Served:          Unknown  NoEndpoints  no endpoint found');
    expect(out).not.toContain('Served at');
    expect(out).toMatch(/ {2}Served: No Service, Ingress, Gateway/);
  });
});
