// CPU time and memory of a process as Linux accounts them in /proc/<pid>/stat and /proc/<pid>/status,
// so a benchmark can charge each process (operator, kube-apiserver, etcd) its own share per issuance.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface StatTimes {
  pid: number;
  comm: string;
  /** Clock ticks in user mode, all threads of the process (field 14). */
  utime: number;
  /** Clock ticks in kernel mode, all threads (field 15). */
  stime: number;
}

/**
 * Parses one /proc/<pid>/stat line. The command name (field 2) is in parentheses and may itself contain
 * spaces and parentheses ("(sd-pam)", "(a) (b)"), so it ends at the LAST ')' of the line.
 */
export function parseStat(line: string): StatTimes {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 1 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(line.slice(0, 80))}`);
  // fields from 3 (state) on; utime and stime are fields 14 and 15
  const rest = line
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime))
    throw new Error(`/proc/<pid>/stat line too short: ${JSON.stringify(line.slice(0, 80))}`);
  return { pid: Number(line.slice(0, open).trim()), comm: line.slice(open + 1, close), utime, stime };
}

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM, ...), undefined when absent. */
export function statusKb(status: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  return m ? Number(m[1]) : undefined;
}

let ticksMemo: number | undefined;
/** Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when getconf is missing). */
function clockTicks(): number {
  if (ticksMemo === undefined) {
    try {
      ticksMemo = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksMemo = 100;
    }
  }
  return ticksMemo;
}

/** CPU milliseconds (user + system, all threads) the process has used so far. */
function cpuMs(pid: number): number {
  const t = parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  return ((t.utime + t.stime) * 1000) / clockTicks();
}

/** CPU milliseconds of each named process now. */
export function cpuSnapshot(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid)]));
}

/**
 * `cpu_ms_<name>_per_issuance` figures from two snapshots: what each process used between them, divided by
 * the identities issued in between (two decimals; a tick is 10 ms, so n should be in the hundreds).
 */
export function cpuPerIssuance(
  before: Record<string, number>,
  after: Record<string, number>,
  issued: number,
): Record<string, string> {
  return Object.fromEntries(
    Object.keys(before)
      .filter((name) => after[name] !== undefined)
      .map((name) => [`cpu_ms_${name}_per_issuance`, ((after[name]! - before[name]!) / issued).toFixed(2)]),
  );
}

/** Resident set of the process now, MB (VmRSS). */
export function rssMb(pid: number): number | undefined {
  const kb = statusKb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
  return kb === undefined ? undefined : kb / 1024;
}

/** Peak resident set of the process so far, MB (VmHWM). */
export function peakRssMb(pid: number): number | undefined {
  const kb = statusKb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmHWM');
  return kb === undefined ? undefined : kb / 1024;
}
