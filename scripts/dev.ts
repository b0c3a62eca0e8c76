// npm run dev: brings the local control plane up if needed, installs the CRDs, starts the operator
// against it (printing its metrics URL) and applies examples/. Ctrl-C stops the operator; the
// cluster keeps running until `npm run cluster:down`.
// npm run dev -- --node=real: the cluster gets a real node and the operator runs in it, installed by helm
// from the image built here (scripts/lib/dev-real-node.ts; docs/real-node.md).
// Every port is a free loopback port unless set (MIO_DEV_PORT, MIO_ACME_HTTP01_ADDR): a port that is
// taken stops the command with a message naming it before anything starts, and a failure after the
// operator started stops the operator too (never an orphan) and exits non-zero.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT, ensureBinaries } from '../test/harness/control-plane.ts';
import { localWebhookConfiguration } from '../test/harness/webhook.ts';
import { freePort, waitFor, sleep } from '../test/harness/processes.ts';
import { installCrds, applyManifests, readManifests } from '../test/harness/manifests.ts';
import { clusterUp, KUBECONFIG } from './lib/local-cluster.ts';
import { devOnRealNode } from './lib/dev-real-node.ts';
import { parseNodeFlag, type NodeMode } from './lib/node-mode.ts';

const t0 = Date.now();
// each line says when it happened (seconds since start), so a slow step shows in the output
const log = (l: string): void => void process.stdout.write(`[dev] ${l} (+${((Date.now() - t0) / 1000).toFixed(1)}s)\n`);
const NAMESPACE = 'machine-identity-system';
const READY_TIMEOUT_MS = Number(process.env.MIO_DEV_READY_TIMEOUT_MS ?? 60_000);

/** undefined when host:port can be bound now, else the error code (EADDRINUSE, EACCES, ...). */
function bindError(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    srv.listen(port, host, () => srv.close(() => resolve(undefined)));
  });
}

/** host and port of `host:port` or `[v6]:port`. */
function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(addr.slice(i + 1)) };
}

function fail(message: string): never {
  process.stderr.write(`[dev] error: ${message}\n`);
  process.exit(1);
}

let nodeMode: NodeMode = 'kwok';
try {
  nodeMode = parseNodeFlag(process.argv.slice(2));
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
}
if (nodeMode === 'real') {
  try {
    await devOnRealNode(log);
  } catch (e) {
    fail(`${e instanceof Error ? e.message : String(e)}; the cluster stays up (npm run cluster:down stops it)`);
  }
}

async function checkFree(what: string, addr: string): Promise<void> {
  const { host, port } = splitAddr(addr);
  const err = await bindError(host, port);
  if (err)
    fail(
      `${what} ${addr} cannot be bound (${err === 'EADDRINUSE' ? 'the port is in use by another process' : err}); set another address, or unset it for a free port`,
    );
}

const port = Number(process.env.MIO_DEV_PORT ?? (await freePort()));
await checkFree("MIO_DEV_PORT: the operator's HTTP address", `127.0.0.1:${port}`);
// ACME HTTP-01: loopback on a free port (the production default 0.0.0.0:8089 is often taken on a laptop)
const acmeAddr = process.env.MIO_ACME_HTTP01_ADDR ?? `127.0.0.1:${await freePort()}`;
if (acmeAddr !== 'off') await checkFree('MIO_ACME_HTTP01_ADDR: the ACME HTTP-01 listener', acmeAddr);

await clusterUp(log);
const kc = new k8s.KubeConfig();
kc.loadFromFile(KUBECONFIG);
log('installing CRDs from config/crd');
await installCrds(kc);
await applyManifests(kc, [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } } as k8s.KubernetesObject,
]);

const webhookPort = await freePort();
const WEBHOOK_CONFIG = 'machine-identity-operator-dev';
const operator = spawn(process.execPath, [join(REPO_ROOT, 'src/main.ts')], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    KUBECONFIG,
    MIO_NAMESPACE: NAMESPACE,
    MIO_HTTP_ADDR: `127.0.0.1:${port}`,
    POD_NAME: 'dev',
    MIO_WEBHOOK_ADDR: `127.0.0.1:${webhookPort}`,
    MIO_WEBHOOK_HOSTS: '127.0.0.1',
    MIO_WEBHOOK_CONFIG_NAME: WEBHOOK_CONFIG,
    MIO_ACME_HTTP01_ADDR: acmeAddr,
  },
});
log(`operator started (pid ${operator.pid}); ACME HTTP-01 listener ${acmeAddr}`);
const metrics = `http://127.0.0.1:${port}/metrics`;
let stopping = false;
let exitCode = 0;
const exited = new Promise<void>((resolve) => operator.once('exit', () => resolve()));
const stop = (sig: NodeJS.Signals): void => {
  stopping = true;
  operator.kill(sig);
};
process.on('SIGINT', () => stop('SIGTERM'));
process.on('SIGTERM', () => stop('SIGTERM'));
operator.on('exit', (code) => {
  if (!stopping) log(`operator exited (${code ?? 'signal'}) on its own; its output above says why`);
  log('the cluster is still up: npm run cluster:down to stop it');
  process.exit(stopping ? exitCode : code || 1);
});

try {
  await waitFor(
    'operator /readyz',
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
    READY_TIMEOUT_MS,
    300,
  );
  // the chart's webhook configuration, pointed at this process; Ignore, so the cluster stays usable after Ctrl-C
  log("registering the admission webhook (the chart's ValidatingWebhookConfiguration, failurePolicy Ignore)");
  await applyManifests(kc, [
    localWebhookConfiguration({
      binDir: ensureBinaries(log),
      name: WEBHOOK_CONFIG,
      baseUrl: `https://127.0.0.1:${webhookPort}`,
      failurePolicy: 'Ignore',
    }) as k8s.KubernetesObject,
  ]);
  log('applying examples/');
  await applyManifests(kc, readManifests(join(REPO_ROOT, 'examples')));
} catch (e) {
  // never leave the operator running without its parent: stop it (SIGKILL after 10 s), then exit non-zero
  process.stderr.write(
    `[dev] error: ${e instanceof Error ? e.message : String(e)}; stopping the operator (pid ${operator.pid})\n`,
  );
  exitCode = 1;
  stop('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (operator.exitCode === null && operator.signalCode === null) operator.kill('SIGKILL');
  await exited;
}
log(`operator running; metrics at ${metrics}; examples applied; kubeconfig ${KUBECONFIG}`);
log('Ctrl-C stops the operator');
