// How long ago a process started, from /proc/<pid>/stat (field 22, starttime in clock ticks since boot)
// and /proc/uptime: a benchmark times "from process start" without hooking the code that spawned it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticks: number | undefined;
const clockTicks = (): number =>
  (ticks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100);

/** Field 22 (starttime, clock ticks after boot) of a /proc/<pid>/stat line; the command name ends at the last ')'. */
export function startTicks(stat: string): number {
  // fields after the command name: field 3 is at index 0, field 22 at 19
  const v = Number(
    stat
      .slice(stat.lastIndexOf(')') + 2)
      .trim()
      .split(/\s+/)[22 - 3],
  );
  if (!Number.isInteger(v)) throw new Error(`no starttime in ${JSON.stringify(stat.slice(0, 80))}`);
  return v;
}

/** Seconds since the process started (10 ms resolution). */
export function processAgeSeconds(pid: number): number {
  const start = startTicks(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return uptime - start / clockTicks();
}
