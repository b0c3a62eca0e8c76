import { describe, it, expect } from '@jest/globals';
import { cpuPerIssuance, parseStat, statusKb } from '../../bench/lib/proc-cpu.ts';

// 52 fields as the kernel writes them; utime (14) = 1234, stime (15) = 56, starttime (22) = 777
const tail = 'S 1 1 1 0 -1 4194560 100 0 0 0 1234 56 0 0 20 0 12 0 777 1000000 5000 rest of the fields 0 0 0';

describe('parseStat', () => {
  it.each([
    ['a plain name', `4242 (node) ${tail}`, 4242, 'node'],
    ['a name with spaces', `17 (kube apiserver) ${tail}`, 17, 'kube apiserver'],
    ['a name with parentheses', `9 ((sd-pam)) ${tail}`, 9, '(sd-pam)'],
    ['a name that looks like fields', `31 (x) S 1 2 3 4) ${tail}`, 31, 'x) S 1 2 3 4'],
    ['a name with a trailing space and digits', `5 (etcd 12 ) ${tail}`, 5, 'etcd 12 '],
  ])('%s', (_what, line, pid, comm) => {
    expect(parseStat(line)).toEqual({ pid, comm, utime: 1234, stime: 56 });
  });
  it('accepts a trailing newline', () => expect(parseStat(`1 (init) ${tail}\n`).utime).toBe(1234));
  it.each([
    ['no parentheses', '1 init S 1 1'],
    ['empty', ''],
    ['cut short', '1 (init) S 1 1 1 0 -1'],
    ['non-numeric times', `1 (init) ${tail.replace('1234', 'x')}`],
  ])('refuses %s', (_what, line) => expect(() => parseStat(line)).toThrow(/proc\/<pid>\/stat/));
});

describe('statusKb', () => {
  const status = 'Name:\tnode\nVmPeak:\t 1200000 kB\nVmHWM:\t  401234 kB\nVmRSS:\t  190000 kB\nThreads:\t12\n';
  it.each([
    ['VmHWM', 401234],
    ['VmRSS', 190000],
    ['VmSwap', undefined],
    ['Threads', undefined],
  ])('%s', (field, kb) => expect(statusKb(status, field)).toBe(kb));
});

describe('cpuPerIssuance', () => {
  it('charges each process what it used between the snapshots, per identity', () => {
    expect(
      cpuPerIssuance(
        { operator: 1000, apiserver: 5000, etcd: 200 },
        { operator: 8500, apiserver: 15000, etcd: 1400 },
        1000,
      ),
    ).toEqual({
      cpu_ms_operator_per_issuance: '7.50',
      cpu_ms_apiserver_per_issuance: '10.00',
      cpu_ms_etcd_per_issuance: '1.20',
    });
  });
  it('leaves out a process missing from the second snapshot', () => {
    expect(cpuPerIssuance({ operator: 0, etcd: 0 }, { operator: 100 }, 10)).toEqual({
      cpu_ms_operator_per_issuance: '10.00',
    });
  });
});
