// `npm run image` for real: builds (or, warm, reuses) the operator image and the tls-echo test image as
// OCI archives, reads their index/manifest/config from the tar, checks a second run is a cache hit, and
// runs both images with podman the way the chart runs them (UID 65532, read-only root filesystem, no
// network). Cold this takes ~5 min (Debian base + npm ci in the build); warm, seconds.
import { describe, expect, it, beforeAll } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { makePki, type Pem } from '../harness/pki.ts';
import { startTlsEcho } from '../images/tls-echo/server.ts';
import { RUN_FLAGS } from '../../scripts/lib/image-exec.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PODMAN = process.env.MIO_PODMAN ?? 'podman';
const RUN = ['run', '--rm', ...RUN_FLAGS];
// --read-only-tmpfs=false: no writable /tmp or /run either, as a pod with readOnlyRootFilesystem and no emptyDir
const CHART_LIKE = [...RUN, '--read-only', '--read-only-tmpfs=false', '--user', '65532', '--network', 'none'];

/** The entries of an uncompressed tar (ustar), each read as UTF-8 only when asked for. */
function tarEntries(path: string): Map<string, { offset: number; size: number }> {
  const fd = openSync(path, 'r');
  const header = Buffer.alloc(512);
  const entries = new Map<string, { offset: number; size: number }>();
  try {
    for (let pos = 0; readSync(fd, header, 0, 512, pos) === 512 && header[0] !== 0;) {
      const field = (from: number, len: number): string =>
        header
          .subarray(from, from + len)
          .toString('utf8')
          .replace(/\0.*$/s, '');
      const name = [field(345, 155), field(0, 100)].filter(Boolean).join('/');
      const size = parseInt(field(124, 12).trim() || '0', 8);
      entries.set(name, { offset: pos + 512, size });
      pos += 512 + Math.ceil(size / 512) * 512;
    }
  } finally {
    closeSync(fd);
  }
  return entries;
}

interface Oci {
  refName: string | undefined;
  manifest: { mediaType: string; layers: { digest: string; mediaType: string }[] };
  config: {
    config: {
      User?: string;
      Entrypoint?: string[];
      WorkingDir?: string;
      Env?: string[];
      Labels?: Record<string, string>;
    };
  };
  has(digest: string): boolean;
}

function readOci(path: string): Oci {
  const entries = tarEntries(path);
  const json = <T>(name: string): T => {
    const e = entries.get(name);
    if (!e) throw new Error(`${name} not in ${path}`);
    const buf = Buffer.alloc(e.size);
    const fd = openSync(path, 'r');
    readSync(fd, buf, 0, e.size, e.offset);
    closeSync(fd);
    return JSON.parse(buf.toString('utf8')) as T;
  };
  const blob = (digest: string): string => `blobs/sha256/${digest.replace(/^sha256:/, '')}`;
  type Desc = { digest: string; annotations?: Record<string, string> };
  const index = json<{ manifests: Desc[] }>('index.json');
  expect(index.manifests).toHaveLength(1);
  const [desc] = index.manifests;
  if (!desc) throw new Error('empty index');
  const manifest = json<Oci['manifest'] & { config: Desc }>(blob(desc.digest));
  return {
    refName: desc.annotations?.['org.opencontainers.image.ref.name'],
    manifest,
    config: json<Oci['config']>(blob(manifest.config.digest)),
    has: (digest) => entries.has(blob(digest)),
  };
}

function buildImages(): { operator: string; echo: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['scripts/image.ts'], { cwd: ROOT, encoding: 'utf8', timeout: 20 * 60_000 });
  if (r.status !== 0) throw new Error(`npm run image failed (${r.status}):\n${r.stderr.slice(-4000)}`);
  const operator = r.stdout.trim().split('\n').pop() ?? '';
  return { operator, echo: join(dirname(operator), 'mio-tls-echo-dev.oci.tar'), stderr: r.stderr, ms: Date.now() - t0 };
}

/** The image in podman's storage (it is gone when the archive was cached but the storage was reset). */
function ensureLoaded(tag: string, archive: string): void {
  if (spawnSync(PODMAN, ['image', 'exists', tag]).status !== 0)
    expect(spawnSync(PODMAN, ['load', '-q', '-i', archive]).status).toBe(0);
}

/** Runs a container and resolves with its first stdout line that satisfies `want`, and how long it took. */
function firstLine(args: string[], want: (l: string) => boolean): Promise<{ line: string; ms: number }> {
  const t0 = performance.now();
  const child = spawn(PODMAN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no line in 60s; stdout ${out}\nstderr ${err}`)), 60_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l !== '' && want(l));
      if (line === undefined) return;
      clearTimeout(timer);
      res({ line, ms: Math.round(performance.now() - t0) });
    });
    child.on('exit', () => setTimeout(() => rej(new Error(`exited; stdout ${out}\nstderr ${err}`)), 100));
  });
}

const podman = (args: string[]): string => {
  const r = spawnSync(PODMAN, args, { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`;
};

let built: ReturnType<typeof buildImages>;
beforeAll(() => {
  built = buildImages();
  process.stderr.write(`[image test] npm run image took ${built.ms} ms\n`);
}, 25 * 60_000);

describe('the operator image (localhost/machine-identity-operator:dev)', () => {
  it('is an OCI archive configured as the chart runs it', () => {
    const oci = readOci(built.operator);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(oci.refName).toBe('localhost/machine-identity-operator:dev');
    expect(oci.manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    for (const l of oci.manifest.layers) {
      expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      expect(oci.has(l.digest)).toBe(true);
    }
    const c = oci.config.config;
    expect(c.User).toBe('65532:65532');
    expect(c.Entrypoint).toEqual(['node', 'dist/main.js']);
    expect(c.WorkingDir).toBe('/app');
    expect(c.Env).toContain('NODE_ENV=production');
    expect(c.Labels).toMatchObject({
      'org.opencontainers.image.title': 'machine-identity-operator',
      'org.opencontainers.image.version': version,
      'org.opencontainers.image.licenses': 'Apache-2.0',
    });
    expect(c.Labels?.['org.opencontainers.image.base.name']).toMatch(
      /^localhost\/mio-node-base:24\.\d+\.\d+-bookworm-slim-/,
    );
  });

  it('a second run is a cache hit: nothing is rebuilt', () => {
    const again = buildImages();
    expect(again.operator).toBe(built.operator);
    expect(again.stderr).toContain('machine-identity-operator:dev: cached (inputs unchanged)');
    expect(again.stderr).toContain('mio-tls-echo:dev: cached (inputs unchanged)');
    expect(again.ms).toBeLessThan(15_000);
  }, 60_000);

  it('starts as UID 65532 on a read-only root filesystem and logs its first line', async () => {
    ensureLoaded('localhost/machine-identity-operator:dev', built.operator);
    // no API server: it logs "starting" and then fails to list, which is all this checks
    const name = `mio-operator-${process.pid}`;
    const { line, ms } = await firstLine(
      [...CHART_LIKE, '--name', name, 'localhost/machine-identity-operator:dev'],
      (l) => l.includes('"msg":"starting"'),
    ).finally(() => podman(['rm', '--force', '--time', '0', name]));
    process.stderr.write(`[image test] operator container: first log line after ${ms} ms\n`);
    expect(JSON.parse(line)).toMatchObject({ level: 'info', msg: 'starting', pid: 1 });
    const probe = podman([
      ...CHART_LIKE,
      '--entrypoint',
      '/bin/sh',
      'localhost/machine-identity-operator:dev',
      '-c',
      'id -u; touch /app/x; command -v npm || echo no npm',
    ]);
    expect(probe).toContain('65532');
    expect(probe).toContain("touch: cannot touch '/app/x': Read-only file system");
    expect(probe).toContain('no npm');
  }, 120_000);
});

async function servedFingerprint(port: number): Promise<string> {
  return new Promise((res, rej) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      res(s.getPeerX509Certificate()?.fingerprint256 ?? '');
      s.destroy();
    });
    s.on('error', rej);
  });
}

/** Writes tls.crt/tls.key readable by UID 65532, each file replaced atomically (as a Secret volume update). */
function writePair(dir: string, pem: Pem): void {
  for (const [name, body] of [
    ['tls.crt', pem.cert],
    ['tls.key', pem.key],
  ] as const) {
    writeFileSync(join(dir, `.${name}`), body, { mode: 0o644 });
    renameSync(join(dir, `.${name}`), join(dir, name));
  }
}

describe('the tls-echo test image (localhost/mio-tls-echo:dev)', () => {
  it('is an OCI archive of the server on the same base, as UID 65532', () => {
    const oci = readOci(built.echo);
    expect(oci.refName).toBe('localhost/mio-tls-echo:dev');
    expect(oci.config.config.User).toBe('65532:65532');
    expect(oci.config.config.Entrypoint).toEqual(['node', 'server.ts']);
  });

  it('serves the mounted certificate and swaps in a renewed one without a restart', async () => {
    const pki = await makePki();
    const [first, second] = [await pki.serving(), await pki.serving()];
    const dir = mkdtempSync(join(tmpdir(), 'mio-tls-echo-'));
    chmodSync(dir, 0o755);
    writePair(dir, first);
    const fp = (pem: Pem): string => new X509Certificate(pem.cert).fingerprint256;

    const echo = await startTlsEcho({ dir, port: 0, host: '127.0.0.1', reloadMs: 100, log: () => undefined });
    try {
      expect(await servedFingerprint(echo.port)).toBe(fp(first));
      writePair(dir, second);
      const t0 = Date.now();
      while ((await servedFingerprint(echo.port)) !== fp(second)) {
        expect(Date.now() - t0).toBeLessThan(5_000);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await echo.stop();
    }

    // the image: the same server as UID 65532 on a read-only root, reading the mounted pair
    ensureLoaded('localhost/mio-tls-echo:dev', built.echo);
    const { line, ms } = await firstLine(
      [
        ...CHART_LIKE,
        '--volume',
        `${dir}:/tls:ro`,
        '--name',
        `mio-tls-echo-${process.pid}`,
        'localhost/mio-tls-echo:dev',
      ],
      (l) => l.includes('"msg":"serving"'),
    ).finally(() => podman(['rm', '--force', '--time', '0', `mio-tls-echo-${process.pid}`]));
    process.stderr.write(`[image test] tls-echo container: serving after ${ms} ms\n`);
    expect(JSON.parse(line)).toMatchObject({ msg: 'serving', port: 8443, fingerprint256: fp(second) });
  }, 120_000);
});
