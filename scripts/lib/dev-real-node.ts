// `npm run dev -- --node=real`: the local cluster with a real node, the operator's image built here and
// imported into the node's containerd, the operator installed the way a user installs it (helm install of
// the chart), examples/ applied, and how to watch a pod receive its certificate printed. Then it follows
// the operator's logs; Ctrl-C stops only that: the cluster (and the operator in it) stay up until
// `npm run cluster:down`.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT, ensureBinaries } from '../../test/harness/control-plane.ts';
import { applyManifests, readManifests } from '../../test/harness/manifests.ts';
import { waitFor } from '../../test/harness/processes.ts';
import { importIntoContainerd } from './image-build.ts';
import { CACHE_DIR } from './image-exec.ts';
import { KUBECONFIG, LOCAL_DIR, clusterUp } from './local-cluster.ts';
import { podCertificateDemo } from './pod-certificate-demo.ts';

const NAMESPACE = 'machine-identity-system';
const RELEASE = 'machine-identity-operator';
const CHART = join(REPO_ROOT, 'deploy/helm/machine-identity-operator');
const OPERATOR_REPO = 'localhost/machine-identity-operator';
const ECHO_TAG = 'localhost/mio-tls-echo:dev';
const EXAMPLE_BINDING = 'local-ca';
const HELM_TIMEOUT = process.env.MIO_DEV_HELM_TIMEOUT ?? '5m';

/** `npm run image`: the operator archive is the last line of its stdout; its progress goes to our stderr. */
function buildImages(): { operator: string; echo: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/image.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`npm run image failed (exit ${r.status ?? r.signal}); its output is above`);
  const operator = r.stdout.trim().split('\n').pop() ?? '';
  return { operator, echo: join(CACHE_DIR, 'mio-tls-echo-dev.oci.tar') };
}

/**
 * The chart's values for the local cluster: the image just imported (never pulled), and the grants examples/
 * use (the example binding publishes a trust bundle, the example identity names a rollout); both are opt-in
 * in the chart, and `npm run dev` without a real node runs the operator with admin rights anyway.
 */
const DEV_HELM_VALUES = [
  `image.repository=${OPERATOR_REPO}`,
  'image.tag=dev',
  'image.pullPolicy=Never',
  'rbac.trustBundleConfigMaps.scope=cluster',
  'rbac.rollout.scope=cluster',
];

/**
 * helm upgrade --install. The tag stays `dev` whatever was built, so the pods carry the image's input key as
 * an annotation: a rebuilt image rolls them on the next `npm run dev -- --node=real`.
 */
function helmInstall(bin: string, imageKey: string, log: (l: string) => void): void {
  const home = join(LOCAL_DIR, 'helm');
  const args = ['upgrade', '--install', RELEASE, CHART, '--namespace', NAMESPACE, '--create-namespace'];
  args.push(...DEV_HELM_VALUES.flatMap((v) => ['--set', v]));
  args.push('--set-string', `podAnnotations.mio-dev-image-key=${imageKey}`, '--wait', '--timeout', HELM_TIMEOUT);
  log(`helm ${args.join(' ').replace(REPO_ROOT + '/', '')}`);
  const r = spawnSync(join(bin, 'helm'), args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      KUBECONFIG,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
  });
  if (r.status !== 0) {
    const pods = spawnSync(join(bin, 'kubectl'), ['-n', NAMESPACE, 'get', 'pods,events', '-o', 'wide'], {
      env: { ...process.env, KUBECONFIG },
      encoding: 'utf8',
    });
    throw new Error(
      `helm install failed (exit ${r.status ?? r.signal}); the operator's pods and events:\n${pods.stdout}`,
    );
  }
}

/** Prints how to watch the real kubelet get a pod certificate signed by the operator. */
function printDemo(bin: string, signerEnabled: boolean, log: (l: string) => void): void {
  const manifestPath = join(LOCAL_DIR, 'pod-certificate-demo.yaml');
  const demo = podCertificateDemo({
    binding: EXAMPLE_BINDING,
    namespace: 'demo',
    image: ECHO_TAG,
    signerEnabled,
    kubectl: 'kubectl',
    manifestPath,
  });
  writeFileSync(manifestPath, yaml.dump(demo.pod));
  log(`watch a pod receive its certificate from ${demo.signerName} (the kubelet makes the key and request):`);
  // the kubectl built with the plane, so its version matches the cluster's
  log(`  export KUBECONFIG=${KUBECONFIG} PATH=${bin}:$PATH`);
  for (const s of demo.steps) log(`  ${s}`);
}

async function bindingIsPodSigner(kc: k8s.KubeConfig): Promise<boolean> {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const b = (await api.getClusterCustomObject({
    group: 'machineidentity.io',
    version: 'v1alpha1',
    plural: 'certificateauthoritybindings',
    name: EXAMPLE_BINDING,
  })) as { spec?: { signer?: { podCertificates?: boolean } } };
  return b.spec?.signer?.podCertificates === true;
}

/** Follows the operator pods' logs until SIGINT/SIGTERM, then exits 0 leaving the cluster up. */
function followLogs(kubectl: string, log: (l: string) => void): Promise<never> {
  const child = spawn(
    kubectl,
    [
      '-n',
      NAMESPACE,
      'logs',
      '-f',
      '--prefix',
      '--tail=5',
      '--max-log-requests=6',
      '-l',
      `app.kubernetes.io/instance=${RELEASE}`,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, KUBECONFIG } },
  );
  child.once('exit', () => log('log stream ended (the operator pods restarted or went away); Ctrl-C to leave'));
  const leave = (): void => {
    child.kill('SIGTERM');
    log(
      `left the cluster running with the operator in it: npm run cluster:down stops everything (the real node leaves no trace); helm -n ${NAMESPACE} uninstall ${RELEASE} removes only the operator`,
    );
    process.exit(0);
  };
  process.on('SIGINT', leave);
  process.on('SIGTERM', leave);
  return new Promise<never>(() => setInterval(() => undefined, 1 << 30));
}

export async function devOnRealNode(log: (l: string) => void): Promise<never> {
  // until the operator runs, Ctrl-C just ends this command: the cluster stays up
  const early = (): void => {
    log('interrupted; the cluster stays up: npm run cluster:down stops it');
    process.exit(130);
  };
  process.on('SIGINT', early);
  process.on('SIGTERM', early);
  const state = await clusterUp(log, 'real');
  const node = state.node;
  if (!node) throw new Error('the local cluster has no real node');
  const bin = ensureBinaries(log, { node: true });
  const kubectl = join(bin, 'kubectl');
  log('building the images (npm run image; cached when src/ did not change)');
  const images = buildImages();
  const ctr = join(node.deps.dir, 'ctr');
  importIntoContainerd(images.operator, `${OPERATOR_REPO}:dev`, node.traces.containerdSocket, ctr);
  importIntoContainerd(images.echo, ECHO_TAG, node.traces.containerdSocket, ctr);
  log(`images imported into the real node's containerd (${node.traces.containerdSocket})`);
  mkdirSync(join(LOCAL_DIR, 'helm'), { recursive: true });
  helmInstall(bin, readFileSync(`${images.operator}.key`, 'utf8').trim().slice(0, 12), log);
  log(`operator installed by helm: deployment ${RELEASE} in ${NAMESPACE} Ready on ${node.nodeName}`);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  // the webhook answers once the operator has put its CA in the webhook configuration: retry briefly
  await waitFor(
    'examples/ applied',
    async () => {
      await applyManifests(kc, readManifests(join(REPO_ROOT, 'examples')));
      return true;
    },
    60_000,
    1000,
  );
  log('applied examples/');
  printDemo(bin, await bindingIsPodSigner(kc), log);
  process.off('SIGINT', early);
  process.off('SIGTERM', early);
  log(`operator logs follow; Ctrl-C leaves the cluster and the operator running (npm run cluster:down stops them)`);
  return followLogs(kubectl, log);
}
