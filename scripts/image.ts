// npm run image [-- --force] [-- --import <containerd socket>]: builds the operator image (the
// repository's Dockerfile) and the test TLS server image without a daemon, on a local
// node:24-bookworm-slim equivalent, as OCI archives cached under ~/.cache/machine-identity-operator/image.
// The operator archive's path is the last line of stdout. With --import (the real node's containerd
// socket), both archives are imported into containerd's k8s.io namespace.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBase } from './lib/image-base.ts';
import { ensureImage, importIntoContainerd } from './lib/image-build.ts';
import { ensureTools, log } from './lib/image-exec.ts';

const ROOT = resolve(import.meta.dirname, '..');
const OPERATOR_TAG = 'localhost/machine-identity-operator:dev';
const TLS_ECHO_TAG = 'localhost/mio-tls-echo:dev';

const { values } = parseArgs({ options: { force: { type: 'boolean' }, import: { type: 'string' } } });
const t0 = Date.now();
ensureTools();
const base = ensureBase(values.force);
const gitRevision = (): string => {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
};
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const operator = ensureImage(
  {
    name: 'machine-identity-operator-dev',
    tag: OPERATOR_TAG,
    contextDir: ROOT,
    dockerfile: join(ROOT, 'Dockerfile'),
    labelArgs: { VERSION: version, REVISION: gitRevision(), CREATED: new Date().toISOString().slice(0, 19) + 'Z' },
  },
  base,
  values.force,
);
const echoDir = join(ROOT, 'test', 'images', 'tls-echo');
const echo = ensureImage(
  { name: 'mio-tls-echo-dev', tag: TLS_ECHO_TAG, contextDir: echoDir, dockerfile: join(echoDir, 'Containerfile') },
  base,
  values.force,
);
if (values.import !== undefined) {
  importIntoContainerd(operator, OPERATOR_TAG, values.import);
  importIntoContainerd(echo, TLS_ECHO_TAG, values.import);
}
log(`done in ${((Date.now() - t0) / 1000).toFixed(1)}s; test image ${echo}`);
process.stdout.write(`${operator}\n`);
