import { describe, it, expect } from '@jest/globals';
import { parseRequestTotals, writesBetween, writesOn } from '../../bench/lib/apiserver-requests.ts';
import { startTicks } from '../../bench/lib/proc-age.ts';

const metrics = (lines: string[]): string =>
  [
    '# HELP apiserver_request_total [STABLE] Counter of apiserver requests',
    '# TYPE apiserver_request_total counter',
    ...lines,
    'apiserver_request_duration_seconds_count{verb="PUT",resource="secrets"} 99',
  ].join('\n');

describe('parseRequestTotals', () => {
  it('sums a verb and resource over the other labels, keeps subresources apart', () => {
    const m = parseRequestTotals(
      metrics([
        'apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 7',
        'apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 2',
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="machineidentity.io",resource="machineidentities",scope="resource",subresource="status",verb="APPLY",version="v1alpha1"} 5',
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 40',
      ]),
    );
    expect(Object.fromEntries(m)).toEqual({
      'POST secrets': 9,
      'APPLY machineidentities/status': 5,
      'PUT leases': 40,
    });
  });
});

describe('writesBetween and writesOn', () => {
  const before = new Map([
    ['POST secrets', 10],
    ['GET secrets', 5],
    ['PUT leases', 3],
  ]);
  const after = new Map([
    ['POST secrets', 10],
    ['GET secrets', 50],
    ['PUT leases', 9],
    ['APPLY machineidentities/status', 2],
    ['DELETE secrets', 1],
  ]);
  const w = writesBetween(before, after);
  it('keeps the write verbs that grew, reads and unchanged counters dropped', () =>
    expect(Object.fromEntries(w)).toEqual({
      'PUT leases': 6,
      'APPLY machineidentities/status': 2,
      'DELETE secrets': 1,
    }));
  it.each([
    [['secrets', 'machineidentities'], 3],
    [['leases'], 6],
    [['events'], 0],
  ])('on %j: %d', (resources, n) => expect(writesOn(w, resources)).toBe(n));
});

describe('startTicks', () => {
  const tail = 'S 1 1 1 0 -1 4194560 100 0 0 0 1234 56 0 0 20 0 12 0 777 1000000 5000 0 0';
  it.each([
    ['a plain name', `4242 (node) ${tail}`],
    ['a name with spaces and parentheses', `9 ((sd pam) x) ${tail}`],
  ])('%s', (_w, line) => expect(startTicks(line)).toBe(777));
  it('throws on a short line', () => expect(() => startTicks('1 (x) S 1 2')).toThrow(/starttime/));
});
