// Shared by the `npm run image` modules: the cache directory, logging, running commands, and the
// Debian tools the build needs (installed when missing).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const RECIPE_VERSION = '1'; // bump to rebuild every cached artifact after changing a recipe in these files
export const CACHE_DIR =
  process.env.MIO_IMAGE_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'machine-identity-operator', 'image');
/** crun fails here ("cgroups in hybrid mode not supported"); without CAP_SYS_RESOURCE the defaults cannot be raised. */
export const RUN_FLAGS = ['--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768'];

export const log = (m: string): void =>
  void process.stderr.write(`[image ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

/** Runs a command with its output on our stderr (stdout is kept for the archive path); throws on failure. */
export function run(cmd: string, args: readonly string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal ?? r.error?.message}`);
}

export function capture(cmd: string, args: readonly string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { ok: r.status === 0, out: r.stdout ?? '' };
}

const onPath = (bin: string): boolean => capture('sh', ['-c', `command -v ${bin}`]).ok;

/**
 * podman (with runc: crun does not work here) and mmdebstrap, from Debian, when missing. As root podman
 * uses kernel overlayfs, so uidmap and fuse-overlayfs are not needed; the CNI plugins keep podman's
 * network setup quiet although builds use the host network and checks none.
 */
export function ensureTools(): void {
  const need: Record<string, string[]> = {
    podman: ['podman', 'containernetworking-plugins'],
    runc: ['runc'],
    mmdebstrap: ['mmdebstrap'],
  };
  const pkgs = Object.entries(need).flatMap(([bin, p]) => (onPath(bin) ? [] : p));
  if (pkgs.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing ${pkgs.join(', ')}: run as root or apt-get install them`);
  log(`installing ${pkgs.join(' ')} from Debian`);
  run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs]);
}

export const elapsed = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
export const readIf = (p: string): string | undefined => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);
