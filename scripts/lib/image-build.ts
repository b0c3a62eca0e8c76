// The images of `npm run image`: the repository's Dockerfile (and the test images) built with podman
// (no daemon) on the local base (image-base.ts) and saved as OCI archives under
// ~/.cache/machine-identity-operator/image, rebuilt only when the hash of their inputs changes; and the
// hook that imports an archive into a real node's containerd.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { cpSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Base } from './image-base.ts';
import { buildContext, cacheDecision, inputKey, type Input } from './image-recipe.ts';
import { CACHE_DIR, RECIPE_VERSION, RUN_FLAGS, capture, elapsed, log, readIf, run } from './image-exec.ts';

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
