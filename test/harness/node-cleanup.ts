// Finds and removes what a real node leaves on the host: processes in its cgroups or talking to its
// containerd socket, mounts under its directory, its bridge and veths, the iptables chains that appeared
// while it ran, the kubepods cgroups, and the kubelet's /var/log/containers links. `leftovers` is the same
// search without removing anything: the real-node test asserts it comes back empty.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';
const KUBEPODS = 'kubepods';
const CHAIN_PREFIXES = ['KUBE-', 'CNI-', 'MIO-'];
const TABLES = ['filter', 'nat', 'mangle'];
const IPTABLES = ['iptables', 'ip6tables'];

const run = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const tryRun = (cmd: string, args: string[]): string => {
  try {
    return run(cmd, args);
  } catch {
    return '';
  }
};

/** What existed before the node started, so teardown never removes someone else's chain. */
export interface HostSnapshot {
  chains: string[];
}

export function snapshotHost(): HostSnapshot {
  return { chains: listChains() };
}

/** `iptables -t T -S` lines `-N NAME` with one of our prefixes, as "iptables/T/NAME". */
export function chainsIn(save: string, prefix: string): string[] {
  return save
    .split('\n')
    .map((l) => /^-N (\S+)$/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined && CHAIN_PREFIXES.some((p) => c.startsWith(p)))
    .map((c) => `${prefix}/${c}`);
}

function listChains(): string[] {
  return IPTABLES.flatMap((ipt) => TABLES.flatMap((t) => chainsIn(tryRun(ipt, ['-w', '-t', t, '-S']), `${ipt}/${t}`)));
}

/** Mount points at or under dir, deepest first (so a parent is unmounted after what sits on it). */
export function mountsUnder(mountinfo: string, dir: string): string[] {
  return mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .map((m) => m.replace(/\\040/g, ' '))
    .reverse();
}

/** Every directory named kubepods (and below) in each cgroup v1 hierarchy, deepest first. */
function kubepodsCgroups(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    out.push(d);
  };
  for (const h of existsSync(CGROUP_ROOT) ? readdirSync(CGROUP_ROOT) : []) {
    const k = join(CGROUP_ROOT, h, KUBEPODS);
    if (existsSync(k)) walk(k);
  }
  return out;
}

function cgroupPids(): number[] {
  const pids = new Set<number>();
  for (const d of kubepodsCgroups()) {
    const f = join(d, 'cgroup.procs');
    if (!existsSync(f)) continue;
    for (const l of readFileSync(f, 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
  }
  return [...pids];
}

/** PIDs whose command line names our containerd socket: the runc shims it started (they re-parent). */
function socketPids(socket: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').includes(socket)) out.push(Number(e));
    } catch {
      /* exited */
    }
  }
  return out;
}

function links(bridge: string): string[] {
  const veths = tryRun('ip', ['-o', 'link', 'show', 'master', bridge])
    .split('\n')
    .map((l) => /^\d+: ([^@:]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
  return [...veths, ...(tryRun('ip', ['-o', 'link', 'show', 'dev', bridge]) ? [bridge] : [])];
}

function containerLogLinks(podLogs: string): string[] {
  const d = '/var/log/containers';
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .map((f) => join(d, f))
    .filter((f) => {
      try {
        return readlinkSync(f).startsWith(`${podLogs}/`);
      } catch {
        return false;
      }
    });
}

export interface NodeTraces {
  dir: string;
  bridge: string;
  containerdSocket: string;
  podLogs: string;
  before: HostSnapshot;
}

/** What the node left behind, one line per thing; empty when the host is as it was. */
export function leftovers(t: NodeTraces): string[] {
  const before = new Set(t.before.chains);
  return [
    ...socketPids(t.containerdSocket).map((p) => `process ${p} (${procName(p)}) on ${t.containerdSocket}`),
    ...cgroupPids().map((p) => `process ${p} (${procName(p)}) in ${KUBEPODS} cgroup`),
    ...mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), t.dir).map((m) => `mount ${m}`),
    ...links(t.bridge).map((l) => `link ${l}`),
    ...listChains()
      .filter((c) => !before.has(c))
      .map((c) => `chain ${c}`),
    ...kubepodsCgroups().map((c) => `cgroup ${c}`),
    ...containerLogLinks(t.podLogs).map((f) => `symlink ${f}`),
  ];
}

function procName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

function killAll(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function settle(what: () => number[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (what().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/**
 * Removes everything `leftovers` would report. Call after containerd, the kubelet and kube-proxy were
 * stopped by PID. Container processes (found by their kubepods cgroup) and shims (found by our socket in
 * their command line) are killed by PID. Returns what could not be removed, with the error.
 */
export async function removeTraces(t: NodeTraces): Promise<string[]> {
  const errors: string[] = [];
  const attempt = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      errors.push(`${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  };
  killAll(cgroupPids());
  await settle(cgroupPids, 5000);
  killAll(socketPids(t.containerdSocket));
  await settle(() => socketPids(t.containerdSocket), 5000);
  for (const m of mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), t.dir))
    attempt(`umount ${m}`, () => {
      try {
        run('umount', [m]);
      } catch {
        run('umount', ['-l', m]);
      }
    });
  for (const l of links(t.bridge)) attempt(`ip link del ${l}`, () => run('ip', ['link', 'del', l]));
  removeChains(new Set(t.before.chains), attempt);
  for (const c of kubepodsCgroups()) attempt(`rmdir ${c}`, () => rmdirSync(c));
  for (const f of containerLogLinks(t.podLogs)) attempt(`rm ${f}`, () => unlinkSync(f));
  return errors;
}

/** Deletes the rules jumping to our new chains, then flushes and deletes the chains themselves. */
function removeChains(before: Set<string>, attempt: (what: string, fn: () => void) => void): void {
  for (const ipt of IPTABLES) {
    for (const table of TABLES) {
      const prefix = `${ipt}/${table}`;
      const save = tryRun(ipt, ['-w', '-t', table, '-S']);
      const ours = new Set(
        chainsIn(save, prefix)
          .filter((c) => !before.has(c))
          .map((c) => c.slice(prefix.length + 1)),
      );
      if (ours.size === 0) continue;
      for (const rule of jumpRules(save, ours))
        attempt(`${ipt} -t ${table} -D ${rule.join(' ')}`, () => run(ipt, ['-w', '-t', table, '-D', ...rule]));
      for (const c of ours) attempt(`${ipt} -t ${table} -F ${c}`, () => run(ipt, ['-w', '-t', table, '-F', c]));
      for (const c of ours) attempt(`${ipt} -t ${table} -X ${c}`, () => run(ipt, ['-w', '-t', table, '-X', c]));
    }
  }
}

/** `-A` rules of chains that are not ours but jump to one of ours, as argument lists for `-D`. */
export function jumpRules(save: string, ours: Set<string>): string[][] {
  return save
    .split('\n')
    .filter((l) => l.startsWith('-A '))
    .map(splitArgs)
    .filter((a) => !ours.has(a[1] ?? '') && ours.has(a[a.indexOf('-j') + 1] ?? ''))
    .map((a) => a.slice(1));
}

/** Splits an `iptables -S` line, honouring the double quotes it puts around comments. */
export function splitArgs(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}
