// npm run dev: brings the local control plane up if needed, installs the CRDs, starts the operator
// against it (printing its metrics URL) and applies examples/. Ctrl-C stops the operator; the
// cluster keeps running until `npm run cluster:down`.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT, ensureBinaries } from '../test/harness/control-plane.ts';
import { localWebhookConfiguration } from '../test/harness/webhook.ts';
import { freePort, waitFor } from '../test/harness/processes.ts';
import { installCrds, applyManifests, readManifests } from '../test/harness/manifests.ts';
import { clusterUp, KUBECONFIG } from './lib/local-cluster.ts';

const log = (l: string): void => void process.stdout.write(`[dev] ${l}\n`);
const NAMESPACE = 'machine-identity-system';

await clusterUp(log);
const kc = new k8s.KubeConfig();
kc.loadFromFile(KUBECONFIG);
log('installing CRDs from config/crd');
await installCrds(kc);
await applyManifests(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } } as k8s.KubernetesObject]);

const port = Number(process.env.MIO_DEV_PORT ?? (await freePort()));
const webhookPort = await freePort();
const WEBHOOK_CONFIG = 'machine-identity-operator-dev';
const operator = spawn(process.execPath, [join(REPO_ROOT, 'src/main.ts')], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, KUBECONFIG, MIO_NAMESPACE: NAMESPACE, MIO_HTTP_ADDR: `127.0.0.1:${port}`, POD_NAME: 'dev',
    MIO_WEBHOOK_ADDR: `127.0.0.1:${webhookPort}`, MIO_WEBHOOK_HOSTS: '127.0.0.1', MIO_WEBHOOK_CONFIG_NAME: WEBHOOK_CONFIG },
});
const metrics = `http://127.0.0.1:${port}/metrics`;
let stopping = false;
const stop = (sig: NodeJS.Signals): void => { stopping = true; operator.kill(sig); };
process.on('SIGINT', () => stop('SIGTERM'));
process.on('SIGTERM', () => stop('SIGTERM'));
operator.on('exit', (code) => {
  log(`operator exited (${code ?? 'signal'}); the cluster is still up: npm run cluster:down to stop it`);
  process.exit(stopping ? 0 : (code ?? 1));
});

await waitFor('operator /readyz', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 60_000, 300);
// the chart's webhook configuration, pointed at this process; Ignore, so the cluster stays usable after Ctrl-C
log('registering the admission webhook (the chart\'s ValidatingWebhookConfiguration, failurePolicy Ignore)');
await applyManifests(kc, [localWebhookConfiguration({ binDir: ensureBinaries(log), name: WEBHOOK_CONFIG, baseUrl: `https://127.0.0.1:${webhookPort}`, failurePolicy: 'Ignore' }) as k8s.KubernetesObject]);
log('applying examples/');
await applyManifests(kc, readManifests(join(REPO_ROOT, 'examples')));
log(`operator running; metrics at ${metrics}; examples applied; kubeconfig ${KUBECONFIG}`);
log('Ctrl-C stops the operator');
