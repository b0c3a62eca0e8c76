// The end-to-end tests' own control plane: Kubernetes 1.37 (whatever version the rest of the run uses), set up
// as a real cluster is where the real node needs it. Two things the kwok-only plane never needed:
// - the API server's serving certificate names the `kubernetes` Service's ClusterIP (10.0.0.1): in-cluster
//   clients (the operator in its pod) dial https://$KUBERNETES_SERVICE_HOST and check that IP, as on any cluster;
// - the API server has a kubelet client certificate, so `kubectl logs` / `kubectl exec` reach the kubelet.
// Both need the plane's CA, which exists only once the plane started: the API server is restarted once with them.
import { execFile, execFileSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { ControlPlane, REPO_ROOT } from './control-plane.ts';
import { bridgeIp } from './node-config.ts';
import { DEFAULT_POD_CIDR, RealNode } from './real-node.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const E2E_K8S_VERSION = 'v1.37.2';
const KUBERNETES_SERVICE_IP = '10.0.0.1'; // first address of the plane's --service-cluster-ip-range
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** The bin dir of one Kubernetes version, kubelet and kube-proxy included (built once, cached). */
function binDirOf(version: string): string {
  const out = execFileSync('bash', [join(REPO_ROOT, 'hack/control-plane-bins.sh'), '--node'], {
    env: { ...process.env, MIO_K8S_VERSION: version },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  return out.trim().split('\n').pop() ?? '';
}

/** A serving certificate from the plane's CA with these IP and DNS names. */
async function servingCert(cp: ControlPlane, ips: string[], dns: string[]): Promise<{ cert: string; key: string }> {
  const ca = new x509.X509Certificate(cp.pki.ca.cert);
  const caKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(cp.pki.ca.key), EC, false, [
    'sign',
  ]);
  const keys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    subject: 'CN=kube-apiserver',
    issuer: ca.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 7 * 24 * 3600_000),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...ips.map((value) => ({ type: 'ip' as const, value })),
        ...dns.map((value) => ({ type: 'dns' as const, value })),
      ]),
    ],
  });
  const key = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return { cert: cert.toString('pem'), key };
}

/** Starts the plane (controllers, no kwok node) for one RealNode; see the file comment for what differs. */
export async function startE2ePlane(version = E2E_K8S_VERSION): Promise<ControlPlane> {
  // the node's InternalIP first: its name resolves nowhere (and must not be looked up off this machine)
  const apiServerArgs = [...RealNode.apiServerArgs(), '--kubelet-preferred-address-types=InternalIP'];
  const cp = new ControlPlane({ full: false, fakeNodes: [], apiServerArgs });
  // this file's plane is this version whatever the shared plane of the run is
  const saved = { bin: process.env.MIO_BIN_DIR_RESOLVED, version: process.env.MIO_K8S_VERSION_RESOLVED };
  process.env.MIO_BIN_DIR_RESOLVED = binDirOf(version);
  try {
    await cp.start();
  } finally {
    for (const [k, v] of [
      ['MIO_BIN_DIR_RESOLVED', saved.bin],
      ['MIO_K8S_VERSION_RESOLVED', saved.version],
    ] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
  const pki = join(cp.dir, 'pki');
  const serving = await servingCert(
    cp,
    ['127.0.0.1', KUBERNETES_SERVICE_IP, bridgeIp(DEFAULT_POD_CIDR)],
    ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
  );
  const kubeletClient = await cp.pki.client('kube-apiserver-kubelet-client', ['system:masters']);
  const files = {
    'e2e-apiserver.crt': serving.cert,
    'e2e-apiserver.key': serving.key,
    'e2e-kubelet-client.crt': kubeletClient.cert,
    'e2e-kubelet-client.key': kubeletClient.key,
  };
  for (const [f, c] of Object.entries(files)) writeFileSync(join(pki, f), c, { mode: 0o600 });
  apiServerArgs.push(
    `--tls-cert-file=${pki}/e2e-apiserver.crt`,
    `--tls-private-key-file=${pki}/e2e-apiserver.key`,
    `--kubelet-client-certificate=${pki}/e2e-kubelet-client.crt`,
    `--kubelet-client-key=${pki}/e2e-kubelet-client.key`,
  );
  await cp.stopApiServer();
  await cp.startApiServer();
  await cp.startControllers();
  return cp;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv, timeout = 240_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(bin, args, { env, maxBuffer: 64 << 20, timeout }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** helm (from the plane's bin dir) against this plane, with a private home (a directory the caller removes). */
export function helmFor(cp: ControlPlane, home: string): (...args: string[]) => Promise<Run> {
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    KUBECONFIG: cp.kubeconfigPath,
  };
  return (...args) => run(join(cp.bin, 'helm'), args, env);
}

/** kubectl (from the plane's bin dir) as the plane's admin. */
export function kubectlFor(cp: ControlPlane): (...args: string[]) => Promise<Run> {
  return (...args) => run(join(cp.bin, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args], process.env, 60_000);
}

/** Fails with the command's output unless it exited 0. */
export function ok(r: Run, what: string): string {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
