// Starts child processes with their output in log files, and records every PID in a registry file
// so that teardown (and the leftover check after `npm test`) can stop them by PID, never by name.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot (undefined once gone). */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The file every started PID is appended to; scripts/test.js checks them all after the run. */
function pidRegistry(): string | undefined {
  return process.env.MIO_PID_REGISTRY;
}

export function startProcess(
  name: string,
  bin: string,
  args: string[],
  logFile: string,
  opts: { detached?: boolean; env?: NodeJS.ProcessEnv } = {},
): Proc {
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, args, {
    stdio: ['ignore', fd, fd],
    detached: opts.detached ?? false,
    env: opts.env ?? process.env,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`failed to start ${name} (${bin})`);
  const reg = pidRegistry();
  // with the process's start time: PIDs are reused (pid_max is often 32768), and the leftover check
  // must never take an unrelated process that later got the same PID for ours
  if (reg) appendFileSync(reg, `${child.pid} ${name} ${startTicks(child.pid) ?? ''}\n`);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  if (opts.detached) child.unref();
  return { name, pid: child.pid, child, logFile, exited };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM, then SIGKILL after graceMs; resolves once the PID is gone. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    while (isAlive(pid)) await sleep(20);
  }
}

export async function stopProc(p: Proc, graceMs = 10_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  await stopPid(p.pid, graceMs);
  // reap, so the PID does not linger as a zombie of this process
  await Promise.race([p.exited, sleep(1000)]);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}
