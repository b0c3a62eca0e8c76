// Starts the operator for a benchmark in one of two profiles:
// - chart (default): as the Helm chart installs it. Environment and NODE_OPTIONS from the rendered chart
//   (default values, or `chart.<key>=<value>` params as --set), the admission webhook serving and registered
//   with the API server (the chart's ValidatingWebhookConfiguration, by URL), leader election, inventory,
//   signer and validation as the chart sets them, and the bundled operator the image runs (entry=dist).
//   Only addresses (loopback, free ports), the kubeconfig and the webhook's serving names are overridden.
// - lean: the issuance benchmark's settings before #17 (no webhook, no leader election, log level warn,
//   32 workers, the .ts sources), kept for comparison.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startOperator, type OperatorProcess } from '../../test/harness/operator.ts';
import { REPO_ROOT, ensureBinaries } from '../../test/harness/control-plane.ts';
import { freePort, waitFor } from '../../test/harness/processes.ts';
import type { BenchContext } from '../run.ts';
import { chartSets, localWebhook, operatorEnv, renderChart } from './chart-env.ts';

export interface BenchOperator {
  op: OperatorProcess;
  profile: 'chart' | 'lean';
  entry: 'src' | 'dist';
  /** Waits until the operator is fully serving (chart: its webhook answers admission requests). */
  ready(binding: string): Promise<void>;
  /** Stops the operator and removes what the profile registered with the API server. */
  stop(): Promise<void>;
}

const RELEASE = 'mio';

/** dist/ as the image builds it (`npm run build`: the esbuild bundle, scripts/bundle.ts); minify=false: readable. */
function buildDist(readable: boolean, root: string): void {
  execFileSync(process.execPath, [join(root, 'scripts/bundle.ts'), ...(readable ? ['--readable'] : [])], {
    stdio: 'inherit',
  });
}

/**
 * `root`: the checkout whose operator runs (default this one); with entry=dist its own bundle is built, so a
 * benchmark can alternate two versions (a worktree of main and a branch) under the same load.
 */
export async function startBenchOperator(
  ctx: BenchContext,
  namespace: string,
  root: string = REPO_ROOT,
): Promise<BenchOperator> {
  const profile = ctx.params.profile ?? 'chart';
  if (profile !== 'chart' && profile !== 'lean') throw new Error(`profile=${profile}: chart or lean`);
  const entry = (ctx.params.entry ?? (profile === 'chart' ? 'dist' : 'src')) === 'dist' ? 'dist' : 'src';
  if (entry === 'dist') buildDist(ctx.params.minify === 'false', root);
  const script = entry === 'dist' ? join(root, 'dist/main.js') : undefined;
  return profile === 'lean' ? startLean(ctx, namespace, script, entry) : startChart(ctx, namespace, script, entry);
}

async function startLean(
  ctx: BenchContext,
  namespace: string,
  script: string | undefined,
  entry: 'src' | 'dist',
): Promise<BenchOperator> {
  const op = await startOperator(
    ctx.kubeconfigPath,
    {
      MIO_NAMESPACE: namespace,
      MIO_LEADER_ELECT: 'false',
      MIO_LOG_LEVEL: 'warn',
      MIO_WORKERS: ctx.params.workers ?? '32',
      ...(ctx.params.inventory ? { MIO_INVENTORY: ctx.params.inventory } : {}),
    },
    script,
  );
  return { op, profile: 'lean', entry, ready: async () => undefined, stop: () => op.stop() };
}

async function startChart(
  ctx: BenchContext,
  namespace: string,
  script: string | undefined,
  entry: 'src' | 'dist',
): Promise<BenchOperator> {
  if (ctx.params.workers || ctx.params.inventory)
    throw new Error('profile=chart takes its settings from the chart: use chart.workers=, chart.inventory.enabled=');
  const helm = join(ctx.cp?.bin ?? ensureBinaries(ctx.log), 'helm');
  const sets = chartSets(ctx.params);
  const objects = renderChart(helm, RELEASE, namespace, sets);
  const env = operatorEnv(objects, {
    'metadata.namespace': namespace,
    'metadata.name': `${RELEASE}-bench-0`,
    'status.podIP': '127.0.0.1',
  });
  // the harness gives the HTTP server a free loopback port; the other listeners get one here
  delete env.MIO_HTTP_ADDR;
  const webhookPort = await freePort();
  const webhookOn = env.MIO_WEBHOOK_ADDR !== 'off';
  if (webhookOn) {
    env.MIO_WEBHOOK_ADDR = `127.0.0.1:${webhookPort}`;
    env.MIO_WEBHOOK_HOSTS = '127.0.0.1';
  }
  if (env.MIO_ACME_HTTP01_ADDR !== 'off') env.MIO_ACME_HTTP01_ADDR = `127.0.0.1:${await freePort()}`;
  ctx.log(
    `profile=chart (${sets.length ? sets.join(' ') : 'default values'}): ${Object.entries(env)
      .filter(([k]) => !['MIO_NAMESPACE', 'POD_NAME', 'MIO_POD_IP'].includes(k))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  const op = await startOperator(ctx.kubeconfigPath, env, script);
  const admission = ctx.kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const vwc = webhookOn ? localWebhook(objects, `https://127.0.0.1:${webhookPort}`) : undefined;
  if (vwc) await admission.createValidatingWebhookConfiguration({ body: vwc });
  return {
    op,
    profile: 'chart',
    entry,
    async ready(binding) {
      if (vwc) await webhookAnswers(ctx, admission, vwc.metadata!.name!, namespace, binding);
    },
    async stop() {
      await op.stop();
      // failurePolicy Fail with nobody answering would block MachineIdentity writes on a --local cluster
      if (vwc)
        await admission.deleteValidatingWebhookConfiguration({ name: vwc.metadata!.name! }).catch(() => undefined);
    },
  };
}

/** The operator has written the caBundle and a dry-run create of a MachineIdentity passes its webhook. */
async function webhookAnswers(
  ctx: BenchContext,
  admission: k8s.AdmissionregistrationV1Api,
  name: string,
  namespace: string,
  binding: string,
): Promise<void> {
  const t0 = Date.now();
  await waitFor(
    `caBundle of ValidatingWebhookConfiguration ${name}`,
    async () =>
      (await admission.readValidatingWebhookConfiguration({ name })).webhooks?.every((w) => !!w.clientConfig.caBundle),
    60_000,
    200,
  );
  const co = ctx.kc.makeApiClient(k8s.CustomObjectsApi);
  await waitFor(
    'the admission webhook to admit a dry-run MachineIdentity',
    async () => {
      await co.createNamespacedCustomObject({
        group: 'machineidentity.io',
        version: 'v1alpha1',
        plural: 'machineidentities',
        namespace,
        dryRun: 'All',
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'MachineIdentity',
          metadata: { name: 'webhook-probe' },
          spec: {
            secretName: 'webhook-probe-tls',
            authorityRef: { name: binding },
            dnsNames: [`webhook-probe.${namespace}.svc`],
          },
        },
      });
      return true;
    },
    60_000,
    250,
  );
  ctx.log(`admission webhook registered and answering (${Date.now() - t0} ms)`);
}
