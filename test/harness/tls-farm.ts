// A farm of TLS endpoints for `bench validate` and the prober's scale test: thousands of addresses in a
// network namespace this harness creates, all answered by ONE TLS listener.
//
//   host  mio-farm-h 10.250.16.1/30 ──veth── mio-farm-n 10.250.16.2/30  netns mio-farm
//   host route 10.250.0.0/20 via 10.250.16.2          ns: `local 10.250.0.0/20 dev lo`
//
// The `local` route makes every address of the /20 an address of the namespace, so a listener on
// 0.0.0.0:<port> there answers on all of them. Nothing is NATed or forwarded, the namespace has no other
// route, and 10.250.0.0/20 is routed nowhere else: the farm's addresses exist only here (the project's
// network rule). setupFarm deletes what a crashed run left behind first, stopFarm (or cleanupFarm) removes
// the namespace, the veth pair and the host route; both are idempotent.
//
// Slot 1 is a second, disjoint farm (netns mio-farm-b, 10.250.32.0/20, link 10.250.48.0/30) for `bench
// validate`, so the benchmark and an integration test using slot 0 can run on one machine without
// tearing down each other's namespace.
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FarmCertFile } from './tls-farm-server.ts';

const run = promisify(execFile);
type FarmSlot = 0 | 1;
interface Layout {
  netns: string;
  hostIf: string;
  nsIf: string;
  hostLink: string;
  nsLink: string;
  nsGw: string;
  range: string;
  /** Third octet of the range's first address. */
  base: number;
}
const LAYOUTS: Record<FarmSlot, Layout> = {
  0: {
    netns: 'mio-farm',
    hostIf: 'mio-farm-h',
    nsIf: 'mio-farm-n',
    hostLink: '10.250.16.1/30',
    nsLink: '10.250.16.2/30',
    nsGw: '10.250.16.2',
    range: '10.250.0.0/20',
    base: 0,
  },
  1: {
    netns: 'mio-farm-b',
    hostIf: 'mio-farmb-h',
    nsIf: 'mio-farmb-n',
    hostLink: '10.250.48.1/30',
    nsLink: '10.250.48.2/30',
    nsGw: '10.250.48.2',
    range: '10.250.32.0/20',
    base: 32,
  },
};
export const FARM_NETNS = LAYOUTS[0].netns;
/** The farm's range: 16 × 254 usable addresses (x.x.x.0 and x.x.x.255 are skipped). */
export const FARM_RANGE = LAYOUTS[0].range;
/** The range of a slot (what MIO_VALIDATION_ALLOWED_CIDRS must name). */
export const farmRange = (slot: FarmSlot = 0): string => LAYOUTS[slot].range;
const SERVER = fileURLToPath(new URL('./tls-farm-server.ts', import.meta.url));

export interface FarmOptions {
  /** Addresses to hand out (at most 4064). */
  count: number;
  port?: number;
  certs: FarmCertFile;
  /** Which farm (default 0); slot 1 is disjoint from slot 0 in every name and address. */
  slot?: FarmSlot;
}

export interface TlsFarm {
  /** The farm's addresses, 10.250.0.1 upwards. */
  addresses: string[];
  port: number;
  /** PID of the listener (inside the namespace). */
  pid: number;
  /** Serves these certificates from now on (written to the file, then SIGHUP; resolves once reloaded). */
  setCertificates(certs: FarmCertFile): Promise<void>;
  stop(): Promise<void>;
}

const log = (m: string): void => void process.stderr.write(`${new Date().toISOString()} tls-farm: ${m}\n`);

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}
async function ipQuiet(...args: string[]): Promise<void> {
  await run('ip', args).catch(() => undefined);
}

/** Addresses 10.250.0.1 (slot 1: 10.250.32.1) upwards, skipping .0 and .255 of each /24. */
export function farmAddresses(count: number, slot: FarmSlot = 0): string[] {
  if (!Number.isInteger(count) || count < 1 || count > 16 * 254) throw new Error(`farm size ${count}: 1..4064`);
  const out: string[] = [];
  for (let third = LAYOUTS[slot].base; out.length < count; third++) {
    for (let fourth = 1; fourth <= 254 && out.length < count; fourth++) out.push(`10.250.${third}.${fourth}`);
  }
  return out;
}

/** Removes the namespace (after killing the processes this harness started in it), the veth pair and the route. */
export async function cleanupFarm(slot: FarmSlot = 0): Promise<void> {
  const l = LAYOUTS[slot];
  const pids = await run('ip', ['netns', 'pids', l.netns]).then(
    (r) => r.stdout.split(/\s+/).filter(Boolean).map(Number),
    () => [],
  );
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL'); // only processes inside the slot's namespace, which only this harness creates
    } catch {
      // gone already
    }
  }
  await ipQuiet('route', 'del', l.range);
  await ipQuiet('link', 'del', l.hostIf); // deletes both ends of the pair
  await ipQuiet('netns', 'del', l.netns);
}

async function setupNetwork(slot: FarmSlot): Promise<void> {
  const l = LAYOUTS[slot];
  await cleanupFarm(slot);
  await ip('netns', 'add', l.netns);
  await ip('link', 'add', l.hostIf, 'type', 'veth', 'peer', 'name', l.nsIf, 'netns', l.netns);
  await ip('addr', 'add', l.hostLink, 'dev', l.hostIf);
  await ip('link', 'set', l.hostIf, 'up');
  await ip('-n', l.netns, 'addr', 'add', l.nsLink, 'dev', l.nsIf);
  await ip('-n', l.netns, 'link', 'set', l.nsIf, 'up');
  await ip('-n', l.netns, 'link', 'set', 'lo', 'up');
  await ip('-n', l.netns, 'route', 'add', 'local', l.range, 'dev', 'lo');
  await ip('route', 'add', l.range, 'via', l.nsGw, 'dev', l.hostIf);
}

/** Resolves with the next line of the child's stdout that satisfies `want`; rejects when it exits first. */
function nextLine(child: ChildProcess, want: (l: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => done(new Error(`tls-farm listener: no answer in ${timeoutMs} ms`)), timeoutMs);
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      const hit = lines.find(want);
      if (hit !== undefined) done(undefined, hit);
    };
    const onExit = (code: number | null): void => done(new Error(`tls-farm listener exited (${code})`));
    const done = (e?: Error, line?: string): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (e) reject(e);
      else resolve(line ?? '');
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

export async function startFarm(o: FarmOptions): Promise<TlsFarm> {
  const slot = o.slot ?? 0;
  const addresses = farmAddresses(o.count, slot);
  const port = o.port ?? 8443;
  const t0 = performance.now();
  await setupNetwork(slot);
  const dir = await mkdtemp(join(tmpdir(), 'mio-farm-'));
  const certFile = join(dir, 'certs.json');
  await writeFile(certFile, JSON.stringify(o.certs), { mode: 0o600 });
  const child = spawn('ip', ['netns', 'exec', LAYOUTS[slot].netns, process.execPath, SERVER, certFile, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await nextLine(child, (l) => l === 'listening', 15_000);
  } catch (e) {
    await cleanupFarm(slot);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const pid = child.pid ?? 0;
  log(
    `${addresses.length} addresses in ${LAYOUTS[slot].range}, port ${port}, listener pid ${pid}, ready in ${(performance.now() - t0).toFixed(0)} ms`,
  );
  return {
    addresses,
    port,
    pid,
    async setCertificates(certs) {
      await writeFile(certFile, JSON.stringify(certs), { mode: 0o600 });
      const reloaded = nextLine(child, (l) => l.startsWith('reload'), 10_000);
      child.kill('SIGHUP');
      const line = await reloaded;
      if (line !== 'reloaded') throw new Error(`tls-farm listener: ${line}`);
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
        clearTimeout(timer);
      }
      await cleanupFarm(slot);
      await rm(dir, { recursive: true, force: true });
      log('removed');
    },
  };
}
