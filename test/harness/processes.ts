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

/**
 * The kernel's ephemeral range (source ports of outgoing connections), from /proc; freePort stays
 * below it. A port found free by binding 0 is *in* that range, and between our close and the server's
 * bind, any of the run's thousands of client connections may take it as its source port (CI once saw
 * kube-apiserver never become ready after such a start).
 */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/).map(Number);
    if (lo && hi && lo > 12_000) return [lo, hi];
  } catch {
    /* not Linux: fall back to the kernel's pick */
  }
  return [0, 0];
}

const handedOut = new Set<number>();

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : undefined));
    });
  });
}

/**
 * A loopback TCP port nothing listens on, chosen at random below the ephemeral range (so no outgoing
 * connection can take it before our server binds) and never the same twice in one process. Parallel
 * test processes pick independently from ~19,000 ports and check by binding, so a clash needs the same
 * pick within the same instant; ControlPlane also restarts etcd/kube-apiserver on new ports if one exits.
 */
export async function freePort(): Promise<number> {
  const [lo] = ephemeralRange();
  if (lo) {
    // above the components' well-known ports (kubelet 10250, kube-proxy 10249/10256, …) and below the
    // NodePort range (30000–32767), which kube-proxy's rules on a real node may claim
    const min = 11_000;
    const max = Math.min(lo, 30_000) - 1;
    for (let i = 0; i < 200; i++) {
      const port = min + Math.floor(Math.random() * (max - min));
      if (handedOut.has(port)) continue;
      handedOut.add(port); // before the check: concurrent calls (Promise.all) must not pick it too
      if ((await tryListen(port)) === port) return port;
      handedOut.delete(port);
    }
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  handedOut.add(port);
  return port;
}

/** The last `lines` lines of a log file (for an error message), or a note that it cannot be read. */
export function logTail(file: string, lines = 25): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch (e) {
    return `(cannot read ${file}: ${(e as Error).message})`;
  }
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
