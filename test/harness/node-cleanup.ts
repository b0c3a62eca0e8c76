// Finds and removes what a real node leaves on the host: processes in its cgroups or talking to its
// containerd socket, mounts under its directory, its bridge and veths, the iptables chains that appeared
// while it ran, the kubepods cgroups, the kubelet's /var/log/containers links and the kernel settings
// the kubelet rewrote, the fixed host directories that did not exist before. `leftovers` is the same
// search without removing anything: the real-node test asserts it comes back empty.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';
const KUBEPODS = 'kubepods';
const CHAIN_PREFIXES = ['KUBE-', 'CNI-', 'MIO-'];
const TABLES = ['filter', 'nat', 'mangle'];
const IPTABLES = ['iptables', 'ip6tables'];

/** Runs a host tool (ip, iptables, umount) and returns its stdout; throws with its stderr on failure. */
export const run = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const tryRun = (cmd: string, args: string[]): string => {
  try {
    return run(cmd, args);
  } catch {
    return '';
  }
};

/**
 * The kernel settings the kubelet rewrites at start-up when they differ from what it wants (it logs
 * "Updating kernel flag"); measured here: panic_on_oops 0->1, overcommit_memory 0->1, panic 1->10.
 * protectKernelDefaults would make it refuse to start instead, so they are put back after it starts.
 */
const KUBELET_TUNABLES = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

/**
 * Host directories the components create at fixed paths whatever they are told: the kubelet's device-plugin
 * socket dir, libcni's result cache, containerd's shim socket dir. Another runtime on the host may use them
 * too (Debian's containerd uses /run/containerd), so only our files in them are removed, and the
 * directories only when they did not exist before and are left empty.
 */
const HOST_DIRS = ['/var/lib/kubelet', '/var/lib/cni', '/run/containerd'];
const KUBELET_SOCKET = '/var/lib/kubelet/device-plugins/kubelet.sock';
const CNI_RESULTS = '/var/lib/cni/results';
const CNI_NETWORK = 'mio-pods';

/** What existed before the node started, so teardown never removes someone else's chain or directory. */
export interface HostSnapshot {
  chains: string[];
  sysctls: Record<string, string>;
  hostDirs: string[];
}

export function snapshotHost(): HostSnapshot {
  return { chains: listChains(), sysctls: readSysctls(), hostDirs: HOST_DIRS.filter((d) => existsSync(d)) };
}

/** Our files in the shared host directories: the kubelet's socket (when it was not there before), CNI results. */
function ourHostFiles(before: string[]): string[] {
  const sock = !before.includes('/var/lib/kubelet') && existsSync(KUBELET_SOCKET) ? [KUBELET_SOCKET] : [];
  const results = existsSync(CNI_RESULTS)
    ? readdirSync(CNI_RESULTS)
        .filter((f) => f.startsWith(`${CNI_NETWORK}-`))
        .map((f) => join(CNI_RESULTS, f))
    : [];
  return [...sock, ...results];
}

/** Directories below d (and d) holding no file at all, deepest first; undefined when d holds a file. */
function emptyTree(d: string): string[] | undefined {
  const out: string[] = [];
  for (const e of readdirSync(d, { withFileTypes: true })) {
    if (!e.isDirectory()) return undefined;
    const sub = emptyTree(join(d, e.name));
    if (!sub) return undefined;
    out.push(...sub);
  }
  return [...out, d];
}

/** New host directories we left empty (a directory holding someone's files is not ours to report). */
const newHostDirs = (before: string[]): string[] =>
  HOST_DIRS.filter((d) => !before.includes(d) && existsSync(d) && emptyTree(d) !== undefined);

function readSysctls(): Record<string, string> {
  return Object.fromEntries(
    KUBELET_TUNABLES.filter((k) => existsSync(`/proc/sys/${k}`)).map((k) => [
      k,
      readFileSync(`/proc/sys/${k}`, 'utf8').trim(),
    ]),
  );
}

/** Sysctls that differ from the snapshot, as "key: now (was before)". */
function changedSysctls(before: Record<string, string>): string[] {
  const now = readSysctls();
  return Object.entries(before)
    .filter(([k, v]) => now[k] !== v)
    .map(([k, v]) => `${k}: ${now[k]} (was ${v})`);
}

/** Puts back the kernel settings the kubelet changed; returns what could not be written. */
export function restoreSysctls(before: Record<string, string>): string[] {
  const errors: string[] = [];
  for (const [k, v] of Object.entries(before)) {
    try {
      if (readFileSync(`/proc/sys/${k}`, 'utf8').trim() !== v) writeFileSync(`/proc/sys/${k}`, v);
    } catch (e) {
      errors.push(`sysctl ${k}=${v}: ${String(e)}`);
    }
  }
  return errors;
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
    ...changedSysctls(t.before.sysctls).map((c) => `sysctl ${c}`),
    ...ourHostFiles(t.before.hostDirs).map((f) => `file ${f}`),
    ...newHostDirs(t.before.hostDirs).map((d) => `directory ${d}`),
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
  // a veth goes by itself when its pod's network namespace is freed: one that vanished meanwhile is no error
  for (const l of links(t.bridge))
    attempt(`ip link del ${l}`, () => {
      try {
        run('ip', ['link', 'del', l]);
      } catch (e) {
        if (links(t.bridge).includes(l)) throw e;
      }
    });
  removeChains(new Set(t.before.chains), attempt);
  for (const c of kubepodsCgroups()) attempt(`rmdir ${c}`, () => rmdirSync(c));
  for (const f of containerLogLinks(t.podLogs)) attempt(`rm ${f}`, () => unlinkSync(f));
  for (const f of ourHostFiles(t.before.hostDirs)) attempt(`rm ${f}`, () => unlinkSync(f));
  for (const d of newHostDirs(t.before.hostDirs))
    for (const e of emptyTree(d) ?? []) attempt(`rmdir ${e}`, () => rmdirSync(e));
  errors.push(...restoreSysctls(t.before.sysctls));
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
