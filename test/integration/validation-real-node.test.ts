// Acceptance of #16 on a real node: the operator (the chart with the locally built image, in pods on the node)
// probes what real pods serve and says so in the Served condition, status.served, metrics, alerts and Events.
// - a Deployment that never reloads (tls-echo RELOAD_MS=0): after a renewal Served=False ServingStaleCertificate,
//   the MachineIdentityServingStale alert fires in Debian's Prometheus, and spec.rollout.restartWhenStaleAfter
//   (with the chart's rbac.rollout) restarts it until Served=True again: the renewal -> Served=True figure;
// - a server that reloads the mounted file: Served=True without a restart, and the kubelet's update latency;
// - the operator's own webhook Service; an Ingress and a Gateway listener mapped to their controller's Service
//   (a tls-echo that serves each host its Secret by SNI and refuses any other name: a handshake proves the SNI);
//   an mTLS-only server;
// - probe-side anomalies: a self-signed certificate nobody issued, a certificate from an unknown CA, a name
//   mismatch, a TLS 1.1-only server: Warning Events with those reasons and the machine_identity_anomalies gauge.
// The operator runs in its pods (the chart), so the prober dials pod IPs on the node's bridge as in a cluster.
// Network: only loopback, this test's pod IPs and its API server.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { applyManifests, readManifests } from '../harness/manifests.ts';
import { makePki, type Pem } from '../harness/pki.ts';
import { waitFor } from '../harness/processes.ts';
import { ok } from '../harness/e2e-plane.ts';
import {
  ECHO_IMAGE,
  chartHasValue,
  chartRules,
  installChart,
  startPrometheus,
  startRealNodeCluster,
  stopRealNodeCluster,
  type Prometheus,
  type RealNodeCluster,
} from '../harness/real-node-cluster.ts';
import { AnomalyReason, ServedReason } from '../../src/crds/reasons.ts';
import { CONTROLLER_SERVICE, VALIDATE_REQUESTED_AT } from '../../src/validation/types.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const RELEASE = 'mio';
const SYS = 'mio-system';
const APP = 'val-app';
const FULLNAME = 'mio-machine-identity-operator';
const BINDING = 'val-ca';
const MI = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'machineidentities' } as const;
const CAB = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'certificateauthoritybindings' } as const;
const GW = { group: 'gateway.networking.k8s.io', version: 'v1' } as const;
/** MIO_VALIDATION_STALE_GRACE: short, so the stale case shows within a test's time. */
const STALE_GRACE_S = 20;
/** After the grace, a stale endpoint is seen at the next probe: the schedule's retry (1 m) at most, plus load. */
const STALE_BOUND_S = STALE_GRACE_S + 60 + 20;
/** The alert's thresholds (chart values prometheusRule.servingStaleAfterSeconds / servingStaleFor), shortened. */
const ALERT_AFTER_S = STALE_GRACE_S;
/** spec.rollout.restartWhenStaleAfter of the never-reloading Deployment (the schema's minimum). */
const RESTART_AFTER = '1m';
const ALERT_FOR = '4s';
const fileStart = Date.now();

const log = (l: string): boolean => process.stderr.write(`[validation-e2e] ${l}\n`);
const secondsSince = (t0: number): number => Math.round((Date.now() - t0) / 100) / 10;
const svcName = (name: string): string => `${name}.${APP}.svc`;
const norm = (serial: string): string => serial.toLowerCase().replace(/^0+/, '');

interface Cond {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface ServedEndpoint {
  source: string;
  object: string;
  address: string;
  port: number;
  sni?: string;
  servedSerialNumber?: string;
  verdict: string;
  message?: string;
}
interface Identity {
  metadata?: { name?: string; annotations?: Record<string, string> };
  status?: {
    conditions?: Cond[];
    serialNumber?: string;
    revision?: number;
    served?: { lastProbeTime?: string; endpointCount?: number; endpoints?: ServedEndpoint[] };
  };
}

/** What a TLS handshake from the host saw (this test's own pod IPs only). */
interface Seen {
  serial?: string;
  protocol?: string;
  error?: string;
}
function handshake(ip: string, port: number, opts: ConnectionOptions = {}): Promise<Seen> {
  return new Promise((resolve) => {
    const s = connect(
      {
        host: ip,
        port,
        rejectUnauthorized: false,
        minVersion: 'TLSv1',
        ciphers: 'DEFAULT@SECLEVEL=0',
        timeout: 3000,
        ...opts,
      },
      () => {
        const serial = s.getPeerX509Certificate()?.serialNumber;
        resolve({ serial: serial ? norm(serial) : undefined, protocol: s.getProtocol() ?? undefined });
        s.destroy();
      },
    );
    s.on('error', (e) => resolve({ error: e.message }));
    s.on('timeout', () => {
      s.destroy();
      resolve({ error: 'timeout' });
    });
  });
}

/** A self-signed certificate no Secret holds (served from the pod's environment). */
async function selfSigned(dnsName: string): Promise<Pem> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0a1b2c3d4e5f',
    name: `CN=${dnsName}`,
    keys,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 24 * 3600_000),
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: dnsName }])],
  });
  const key = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return { cert: cert.toString('pem'), key };
}

/**
 * A leaf for `dnsName` from a CA made here, with a name no CA of the cluster has (the harness's own CA,
 * `CN=mio-local-cluster-ca`, is in every namespace's kube-root-ca.crt: a CA named like it would pass as it).
 */
async function foreignLeaf(dnsName: string): Promise<Pem> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const gen = async (): Promise<webcrypto.CryptoKeyPair> =>
    (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const [caKeys, keys] = [await gen(), await gen()];
  const validity = { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 24 * 3600_000) };
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Unapproved Test CA, O=validation-real-node',
    keys: caKeys,
    ...validity,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0f00d1',
    subject: `CN=${dnsName}`,
    issuer: ca.subject,
    ...validity,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: alg,
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(ca),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: dnsName }]),
    ],
  });
  const key = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return { cert: cert.toString('pem'), key };
}

interface Mount {
  secret: string;
  path: string;
}
/** A tls-echo Deployment (one replica) mounting Secrets, and its Service (port 443 -> 8443). */
function workload(
  name: string,
  mounts: Mount[],
  env: Record<string, string>,
  port: { name: string; appProtocol?: string } = { name: 'https' },
): { deployment: k8s.V1Deployment; service: k8s.V1Service } {
  const labels = { app: name };
  return {
    deployment: {
      metadata: { name },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'tls-echo',
                image: ECHO_IMAGE,
                imagePullPolicy: 'Never',
                env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
                ports: [{ containerPort: 8443, name: 'tls' }],
                readinessProbe: { tcpSocket: { port: 8443 }, periodSeconds: 1 },
                securityContext: { runAsUser: 65532, runAsNonRoot: true, readOnlyRootFilesystem: true },
                volumeMounts: mounts.map((m, i) => ({ name: `s${i}`, mountPath: m.path, readOnly: true })),
              },
            ],
            volumes: mounts.map((m, i) => ({ name: `s${i}`, secret: { secretName: m.secret } })),
          },
        },
      },
    },
    service: {
      metadata: { name },
      spec: { selector: labels, ports: [{ ...port, port: 443, targetPort: 8443 }] },
    },
  };
}

describe('validation on a real node: what pods actually serve after a renewal, and anomalies', () => {
  let c: RealNodeCluster;
  let prom: Prometheus | undefined;
  let rulesError: string | undefined;
  const work = mkdtempSync(join(tmpdir(), 'mio-val-e2e-'));
  /** pod IP by workload name, after they are Ready */
  const podIp = new Map<string, string>();

  const identity = async (name: string): Promise<Identity> =>
    (await c.co.getNamespacedCustomObject({ ...MI, namespace: APP, name })) as Identity;
  const served = (mi: Identity): Cond | undefined => mi.status?.conditions?.find((x) => x.type === 'Served');
  const secretSerial = async (name: string): Promise<string> => {
    const s = await c.core.readNamespacedSecret({ name, namespace: APP });
    return norm(new X509Certificate(Buffer.from(s.data?.['tls.crt'] ?? '', 'base64')).serialNumber);
  };
  const annotate = async (name: string, key: string): Promise<number> => {
    const t0 = Date.now();
    const at = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    ok(await c.kubectl('annotate', '-n', APP, `machineidentity/${name}`, `${key}=${at}`, '--overwrite'), 'annotate');
    return t0;
  };
  /** The Served condition once it has `status`/`reason`; fails with the identity's conditions and served status. */
  const waitServed = async (name: string, status: string, reason: string, timeoutMs: number): Promise<Identity> =>
    waitFor(
      `${name}: Served=${status} ${reason}`,
      async () => {
        const mi = await identity(name);
        const s = served(mi);
        return s?.status === status && s.reason === reason ? mi : undefined;
      },
      timeoutMs,
      500,
    ).catch(async (e: unknown) => {
      const mi = await identity(name).catch(() => ({}) as Identity);
      throw new Error(
        `${String(e)}\nconditions: ${JSON.stringify(mi.status?.conditions)}\nserved: ${JSON.stringify(mi.status?.served)}`,
      );
    });
  const podsOf = async (app: string): Promise<k8s.V1Pod[]> =>
    (await c.core.listNamespacedPod({ namespace: APP, labelSelector: `app=${app}` })).items.filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
  const operatorPods = async (): Promise<k8s.V1Pod[]> =>
    (
      await c.core.listNamespacedPod({
        namespace: SYS,
        labelSelector: `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=operator`,
      })
    ).items;

  beforeAll(async () => {
    const t0 = Date.now();
    c = await startRealNodeCluster(work);
    log(`plane ${c.cp.version} + real node + images in ${secondsSince(t0)} s`);
    const kc = c.cp.kubeConfig();
    // the Gateway API before the operator starts: it watches Gateways only when the API server serves them
    await applyManifests(kc, readManifests(join(REPO_ROOT, 'test/fixtures/gateway-api-minimal-crds.yaml')));
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    for (const crd of ['gatewayclasses', 'gateways'])
      await waitFor(
        `${crd} CRD established`,
        async () =>
          (await ext.readCustomResourceDefinition({ name: `${crd}.${GW.group}` })).status?.conditions?.some(
            (x) => x.type === 'Established' && x.status === 'True',
          ),
        30_000,
        200,
      );
    // the app namespace first: rbac.rollout's Role is made in it
    await c.core.createNamespace({ body: { metadata: { name: APP } } });
    const t1 = Date.now();
    const r = await installChart(c.helm, RELEASE, SYS, [
      'rbac.rollout.scope=namespaces',
      `rbac.rollout.namespaces={${APP}}`,
      // the chart's value when it has one (the #16 chart), else the variable itself
      ...(chartHasValue('validation.staleGrace')
        ? [`validation.staleGrace=${STALE_GRACE_S}s`]
        : ['extraEnv[0].name=MIO_VALIDATION_STALE_GRACE', `extraEnv[0].value=${STALE_GRACE_S}s`]),
    ]);
    if (r.code !== 0) throw new Error(`helm install failed: ${r.stderr}`);
    log(`helm install --wait: ${secondsSince(t1)} s`);

    await c.co.createClusterCustomObject({
      ...CAB,
      body: {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'CertificateAuthorityBinding',
        metadata: { name: BINDING },
        spec: {
          ca: { secretRef: { name: BINDING }, generate: { commonName: 'Validation E2E CA' } },
          grants: [{ dnsNames: ['ing.example.com', 'gw.example.com'] }],
        },
      },
    });
    const identities: Record<string, string[]> = {
      stale: [svcName('stale')],
      reload: [svcName('reload')],
      mtls: [svcName('mtls')],
      ing: ['ing.example.com'],
      gw: ['gw.example.com'],
      unknown: [svcName('unknown')],
      authority: [svcName('authority')],
      mismatch: [svcName('mismatch')],
      'mismatch-other': [svcName('mismatch-other')],
      weak: [svcName('weak')],
      lookalike: [svcName('lookalike')],
    };
    // the API server calls the webhook through its Service: right after `helm install --wait` kube-proxy may not
    // route the ClusterIP yet ("connect: connection refused"); the first create is retried until it answers
    const t3 = Date.now();
    let first = true;
    for (const [name, dnsNames] of Object.entries(identities)) {
      const create = (): Promise<unknown> =>
        c.co.createNamespacedCustomObject({
          ...MI,
          namespace: APP,
          body: {
            apiVersion: 'machineidentity.io/v1alpha1',
            kind: 'MachineIdentity',
            metadata: { name },
            spec: {
              secretName: `${name}-tls`,
              authorityRef: { name: BINDING },
              dnsNames,
              duration: '24h',
              // remediation on from the start (the chart grants rbac.rollout): the restart comes RESTART_AFTER
              // after a renewal, so the renewal -> Served=True figure is what a user with this setting gets
              ...(name === 'stale' ? { rollout: { restartWhenStaleAfter: RESTART_AFTER } } : {}),
            },
          },
        });
      if (first)
        await waitFor(
          'the webhook to answer',
          async () => {
            try {
              await create();
              return true;
            } catch (e) {
              if (String((e as { body?: unknown }).body ?? e).includes('failed calling webhook')) return false;
              throw e;
            }
          },
          60_000,
          500,
        );
      else await create();
      if (first) log(`webhook answered ${secondsSince(t3)} s after helm install --wait returned`);
      first = false;
    }
    // a certificate from a CA no binding knows, in a Secret the inventory reads (so it is known, its CA is not)
    const foreign = await foreignLeaf(svcName('authority'));
    await c.core.createNamespacedSecret({
      namespace: APP,
      body: {
        metadata: { name: 'foreign-tls' },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': foreign.cert, 'tls.key': foreign.key },
      },
    });
    // and one from a CA named like the plane's own (CN=mio-local-cluster-ca, in every kube-root-ca.crt), another key
    const lookalike = await (await makePki()).serving([svcName('lookalike')]);
    await c.core.createNamespacedSecret({
      namespace: APP,
      body: {
        metadata: { name: 'lookalike-foreign-tls' },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': lookalike.cert, 'tls.key': lookalike.key },
      },
    });
    const nobody = await selfSigned(svcName('unknown'));
    await waitFor(
      'every identity Ready',
      async () => {
        for (const name of Object.keys(identities))
          if (!(await identity(name)).status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'))
            return false;
        return true;
      },
      90_000,
      500,
    );

    const tls = (secret: string, path = '/tls'): Mount => ({ secret, path });
    const workloads = [
      workload('stale', [tls('stale-tls')], { RELOAD_MS: '0' }),
      workload('reload', [tls('reload-tls')], { RELOAD_MS: '1000' }),
      workload('mtls', [tls('mtls-tls')], { REQUIRE_CLIENT_CERT: '1' }),
      // the stand-in controller: its Service port is not a TLS port by name, so only the Ingress and the
      // Gateway (through the classes' controller-service annotation) map these Secrets to it
      workload(
        'edge',
        [tls('ing-tls', '/tls/ing'), tls('gw-tls', '/tls/gw')],
        { SNI_HOSTS: 'ing.example.com,gw.example.com', TLS_DIRS: '/tls/ing,/tls/gw' },
        { name: 'edge' },
      ),
      workload('unknown', [tls('unknown-tls')], { RELOAD_MS: '0', TLS_CERT_PEM: nobody.cert, TLS_KEY_PEM: nobody.key }),
      workload('authority', [tls('authority-tls', '/mounted'), tls('foreign-tls')], { RELOAD_MS: '0' }),
      workload('mismatch', [tls('mismatch-tls', '/mounted'), tls('mismatch-other-tls')], { RELOAD_MS: '0' }),
      workload('lookalike', [tls('lookalike-tls', '/mounted'), tls('lookalike-foreign-tls')], { RELOAD_MS: '0' }),
      workload('weak', [tls('weak-tls')], {
        TLS_MIN_VERSION: 'TLSv1.1',
        TLS_MAX_VERSION: 'TLSv1.1',
        TLS_CIPHERS: 'DEFAULT@SECLEVEL=0',
      }),
    ];
    for (const w of workloads) {
      await c.apps.createNamespacedDeployment({ namespace: APP, body: w.deployment });
      await c.core.createNamespacedService({ namespace: APP, body: w.service });
    }
    const net = kc.makeApiClient(k8s.NetworkingV1Api);
    await net.createIngressClass({
      body: {
        metadata: { name: 'edge', annotations: { [CONTROLLER_SERVICE]: `${APP}/edge:443` } },
        spec: { controller: 'example.com/stand-in' },
      },
    });
    await net.createNamespacedIngress({
      namespace: APP,
      body: {
        metadata: { name: 'ing' },
        spec: {
          ingressClassName: 'edge',
          tls: [{ hosts: ['ing.example.com'], secretName: 'ing-tls' }],
          rules: [
            {
              host: 'ing.example.com',
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: 'reload', port: { number: 443 } } },
                  },
                ],
              },
            },
          ],
        },
      },
    });
    await c.co.createClusterCustomObject({
      ...GW,
      plural: 'gatewayclasses',
      body: {
        apiVersion: `${GW.group}/${GW.version}`,
        kind: 'GatewayClass',
        metadata: { name: 'edge', annotations: { [CONTROLLER_SERVICE]: `${APP}/edge:443` } },
        spec: { controllerName: 'example.com/stand-in' },
      },
    });
    await c.co.createNamespacedCustomObject({
      ...GW,
      plural: 'gateways',
      namespace: APP,
      body: {
        apiVersion: `${GW.group}/${GW.version}`,
        kind: 'Gateway',
        metadata: { name: 'gw' },
        spec: {
          gatewayClassName: 'edge',
          listeners: [
            {
              name: 'https',
              hostname: 'gw.example.com',
              port: 443,
              protocol: 'HTTPS',
              tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: 'gw-tls' }] },
            },
          ],
        },
      },
    });
    const t2 = Date.now();
    await waitFor(
      'every workload Ready',
      async () => {
        c.node.assertRunning();
        for (const w of workloads) {
          const name = w.deployment.metadata?.name ?? '';
          const p = (await podsOf(name)).find((x) =>
            x.status?.conditions?.some((y) => y.type === 'Ready' && y.status === 'True'),
          );
          if (!p?.status?.podIP) return false;
          podIp.set(name, p.status.podIP);
        }
        return true;
      },
      180_000,
      500,
    );
    log(`${workloads.length} workloads Ready in ${secondsSince(t2)} s`);

    const targets = (await operatorPods()).map((p) => `${p.status?.podIP}:8080`);
    // the chart's rules with the serving-stale thresholds shortened; without them only the alert's test fails
    const rules: string[] = [];
    try {
      rules.push(
        await chartRules(c.helm, work, [
          `prometheusRule.servingStaleAfterSeconds=${ALERT_AFTER_S}`,
          `prometheusRule.servingStaleFor=${ALERT_FOR}`,
        ]),
      );
      if (!readFileSync(rules[0] ?? '', 'utf8').includes('alert: MachineIdentityServingStale'))
        throw new Error('the chart has no MachineIdentityServingStale alert');
    } catch (e) {
      rulesError = String(e);
    }
    prom = await startPrometheus(join(work, 'prometheus'), 'mio-val-e2e', targets, rules);
    log(`set-up in ${secondsSince(t0)} s`);
  }, 900_000);

  afterAll(async () => {
    const t0 = Date.now();
    try {
      if (prom) await prom.stop();
      // the Deployments first: their ReplicaSets would recreate the pods the node's drain deletes
      if (c) await c.apps.deleteCollectionNamespacedDeployment({ namespace: APP }).catch(() => undefined);
    } finally {
      try {
        if (c) await stopRealNodeCluster(c);
      } finally {
        if (!process.env.MIO_KEEP_CLUSTER_DIR) rmSync(work, { recursive: true, force: true });
        log(`teardown in ${secondsSince(t0)} s; file total ${secondsSince(fileStart)} s`);
      }
    }
  }, 300_000);

  it('the workloads serve what the cases need (handshakes from the host to their pod IPs)', async () => {
    const ip = (n: string): string => podIp.get(n) ?? '';
    const edge = {
      ing: await handshake(ip('edge'), 8443, { servername: 'ing.example.com' }),
      gw: await handshake(ip('edge'), 8443, { servername: 'gw.example.com' }),
      other: await handshake(ip('edge'), 8443, { servername: 'other.example.com' }),
      none: await handshake(ip('edge'), 8443),
    };
    expect(edge.ing.serial).toBe(await secretSerial('ing-tls'));
    expect(edge.gw.serial).toBe(await secretSerial('gw-tls'));
    expect(edge.other.serial).toBeUndefined();
    expect(edge.none.serial).toBeUndefined();
    expect((await handshake(ip('stale'), 8443)).serial).toBe(await secretSerial('stale-tls'));
    expect((await handshake(ip('unknown'), 8443)).serial).toBe('a1b2c3d4e5f');
    expect((await handshake(ip('authority'), 8443)).serial).toBe(await secretSerial('foreign-tls'));
    expect((await handshake(ip('mismatch'), 8443)).serial).toBe(await secretSerial('mismatch-other-tls'));
    const weak = await handshake(ip('weak'), 8443);
    expect(weak).toMatchObject({ protocol: 'TLSv1.1', serial: await secretSerial('weak-tls') });
    expect((await handshake(ip('weak'), 8443, { minVersion: 'TLSv1.2' })).error).toMatch(/protocol/);
    // mTLS only: the certificate is shown, then a client without one is refused
    expect((await handshake(ip('mtls'), 8443)).serial).toBe(await secretSerial('mtls-tls'));
    const refused = await new Promise<string>((resolve) => {
      const req = httpsGet(
        { host: ip('mtls'), port: 8443, path: '/', rejectUnauthorized: false, timeout: 3000 },
        (res) => resolve(`answered ${res.statusCode}`),
      );
      req.on('error', (e) => resolve(e.message));
      req.on('timeout', () => req.destroy(new Error('timeout')));
    });
    expect(refused).not.toMatch(/^answered/);
    log(
      `edge by SNI: ing ${edge.ing.serial}, gw ${edge.gw.serial}, unknown name: ${edge.other.error}; weak: ${weak.protocol}; mTLS without a client certificate: ${refused}`,
    );
  });

  describe('Served=True where every endpoint serves the current certificate', () => {
    const current = async (name: string, source: string, object: string, sni: string, app: string): Promise<void> => {
      const t0 = await annotate(name, VALIDATE_REQUESTED_AT);
      const mi = await waitServed(name, 'True', ServedReason.ServingCurrentCertificate, 60_000);
      const eps = mi.status?.served?.endpoints ?? [];
      log(`${name}: Served=True after ${secondsSince(t0)} s: ${JSON.stringify(eps)}`);
      expect(eps).toContainEqual(
        expect.objectContaining({
          source,
          object,
          address: podIp.get(app),
          port: 8443,
          sni,
          servedSerialNumber: expect.stringMatching(new RegExp(`^0*${await secretSerial(`${name}-tls`)}$`, 'i')),
          verdict: 'Current',
        }),
      );
    };

    it('a Deployment behind a Service with a port named https', async () => {
      await current('stale', 'Service', `${APP}/stale`, svcName('stale'), 'stale');
      await current('reload', 'Service', `${APP}/reload`, svcName('reload'), 'reload');
    }, 150_000);

    it('an mTLS-only server (it shows its certificate before asking for the client one)', async () => {
      await current('mtls', 'Service', `${APP}/mtls`, svcName('mtls'), 'mtls');
    }, 90_000);

    it("an Ingress and a Gateway listener, through their controller's Service with the host as SNI", async () => {
      await current('ing', 'Ingress', `${APP}/ing`, 'ing.example.com', 'edge');
      await current('gw', 'Gateway', `${APP}/gw#https`, 'gw.example.com', 'edge');
    }, 150_000);
  });

  describe('a renewal', () => {
    let t0 = 0;
    let before = { stale: '', reload: '' };
    let stalePods = new Set<string>();
    let reloadPods = new Set<string>();
    /** When the reloading pod first served the renewed certificate (polled from the host). */
    let reloadServedAt: Promise<number> | undefined;
    /** When the reloading server's identity first said Served=True for the renewed certificate. */
    let reloadTrueAt: Promise<number> | undefined;

    beforeAll(async () => {
      before = { stale: await secretSerial('stale-tls'), reload: await secretSerial('reload-tls') };
      stalePods = new Set((await podsOf('stale')).map((p) => p.metadata?.name ?? ''));
      reloadPods = new Set((await podsOf('reload')).map((p) => p.metadata?.name ?? ''));
      t0 = Date.now();
      await Promise.all([
        annotate('stale', 'machineidentity.io/renew-requested-at'),
        annotate('reload', 'machineidentity.io/renew-requested-at'),
      ]);
      const ip = podIp.get('reload') ?? '';
      reloadServedAt = waitFor(
        'the reloading pod serving the renewed certificate',
        async () => {
          const s = (await handshake(ip, 8443)).serial;
          return s && s !== before.reload && s === (await secretSerial('reload-tls')) ? Date.now() : undefined;
        },
        150_000,
        250,
      );
      reloadServedAt.catch(() => undefined);
      reloadTrueAt = waitFor(
        'reload: Served=True for the renewed certificate',
        async () => {
          const mi = await identity('reload');
          const s = served(mi);
          const current = norm(mi.status?.serialNumber ?? '');
          const eps = mi.status?.served?.endpoints ?? [];
          return s?.status === 'True' &&
            current !== before.reload &&
            eps.length > 0 &&
            eps.every((e) => norm(e.servedSerialNumber ?? '') === current)
            ? Date.now()
            : undefined;
        },
        150_000,
        250,
      );
      reloadTrueAt.catch(() => undefined);
    }, 30_000);

    it(
      `a server that never reloads: Served=False ${ServedReason.ServingStaleCertificate} within the probe interval`,
      async () => {
        const mi = await waitServed('stale', 'False', ServedReason.ServingStaleCertificate, STALE_BOUND_S * 1000);
        const took = secondsSince(t0);
        const s = served(mi);
        log(`stale: Served=False ${s?.reason} ${took} s after the renewal (grace ${STALE_GRACE_S} s): ${s?.message}`);
        expect(await secretSerial('stale-tls')).not.toBe(before.stale);
        expect(mi.status?.served?.endpoints).toContainEqual(
          expect.objectContaining({
            source: 'Service',
            object: `${APP}/stale`,
            address: podIp.get('stale'),
            verdict: 'Stale',
            servedSerialNumber: expect.stringMatching(new RegExp(`^0*${before.stale}$`, 'i')),
          }),
        );
        expect(s?.message).toMatch(/stale|serve/i);
        expect(took).toBeGreaterThanOrEqual(STALE_GRACE_S);
        expect(took).toBeLessThan(STALE_BOUND_S);
      },
      (STALE_BOUND_S + 30) * 1000,
    );

    it('the MachineIdentityServingStale alert fires in Prometheus', async () => {
      if (rulesError) throw new Error(rulesError);
      const alert = await waitFor(
        'MachineIdentityServingStale firing for stale',
        async () =>
          (await prom?.alerts())?.find(
            (a) =>
              a.labels.alertname === 'MachineIdentityServingStale' &&
              a.labels.namespace === APP &&
              a.labels.name === 'stale' &&
              a.state === 'firing',
          ),
        60_000,
        1000,
      );
      log(
        `alert firing ${secondsSince(t0)} s after the renewal: ${JSON.stringify(alert.labels)} ${alert.annotations.description}`,
      );
      const stale = await prom?.query(`machine_identity_endpoint_stale_seconds{namespace="${APP}",name="stale"}`);
      expect(Number(stale?.[0]?.value[1] ?? 0)).toBeGreaterThan(0);
    }, 90_000);

    it('with spec.rollout.restartWhenStaleAfter the Deployment is restarted and Served returns to True', async () => {
      const mi = await waitServed('stale', 'True', ServedReason.ServingCurrentCertificate, 240_000);
      const took = secondsSince(t0);
      const pods = await podsOf('stale');
      expect(pods.some((p) => stalePods.has(p.metadata?.name ?? ''))).toBe(false);
      const ev = await c.core.listNamespacedEvent({
        namespace: APP,
        fieldSelector: `reason=${ServedReason.StaleWorkloadRestarted}`,
      });
      expect(ev.items.length).toBeGreaterThan(0);
      expect(mi.status?.served?.endpoints?.every((e) => e.verdict === 'Current')).toBe(true);
      process.stderr.write(
        `[validation-e2e] README: never-reloading Deployment, restartWhenStaleAfter ${RESTART_AFTER}, stale grace ${STALE_GRACE_S} s: renewal -> Served=True in ${took} s (Served=False ServingStaleCertificate, then ${ServedReason.StaleWorkloadRestarted}: ${ev.items[0]?.message})\n`,
      );
    }, 300_000);

    it('a server that reloads the mounted file: Served=True without a restart; the kubelet update latency', async () => {
      const servedAt = await (reloadServedAt ?? Promise.reject(new Error('no poller')));
      const trueAt = await (reloadTrueAt ?? Promise.reject(new Error('no poller')));
      const latency = Math.round((servedAt - t0) / 100) / 10;
      const mi = await waitServed('reload', 'True', ServedReason.ServingCurrentCertificate, 120_000);
      expect(mi.status?.served?.endpoints).toContainEqual(
        expect.objectContaining({
          address: podIp.get('reload'),
          verdict: 'Current',
          servedSerialNumber: expect.stringMatching(new RegExp(`^0*${await secretSerial('reload-tls')}$`, 'i')),
        }),
      );
      expect(new Set((await podsOf('reload')).map((p) => p.metadata?.name ?? ''))).toEqual(reloadPods);
      process.stderr.write(
        `[validation-e2e] README: reloading server (tls-echo RELOAD_MS=1000), kubelet syncFrequency 10s (the harness's; the kubelet default 1m gives 64–72 s): renewal -> pod serves the new serial in ${latency} s (kubelet Secret-volume update), Served=True at ${Math.round((trueAt - t0) / 100) / 10} s (probes at +15 s, +45 s, ... after the renewal)\n`,
      );
    }, 180_000);
  });

  it("the operator's own webhook Service is validated (a discovered Secret's target, in the metrics)", async () => {
    // the chart's webhook serves the Secret <fullname>-webhook-tls, which the operator makes itself (no
    // MachineIdentity): its endpoints are reported by machine_identity_endpoint_info and ..._serving_current
    const q = 'machine_identity_endpoint_serving_current{source="ValidatingWebhookConfiguration"}';
    const r = await waitFor(
      'the webhook endpoints in the metrics',
      async () => {
        const x = (await prom?.query(q)) ?? [];
        return x.length > 0 ? x : undefined;
      },
      90_000,
      2000,
    ).catch(async (e: unknown) => {
      const all = (await prom?.query('count by (source) (machine_identity_endpoint_info)')) ?? [];
      throw new Error(
        `${String(e)}\nendpoint_info by source: ${JSON.stringify(all.map((x) => [x.metric.source, x.value[1]]))}`,
      );
    });
    const addrs = (await operatorPods()).map((p) => p.status?.podIP);
    log(`webhook endpoints: ${JSON.stringify(r.map((x) => [x.metric.object, x.metric.address, x.value[1]]))}`);
    for (const s of r) {
      expect(addrs).toContain(s.metric.address);
      expect(s.metric.object).toContain(FULLNAME);
      expect(s.value[1]).toBe('1');
    }
  }, 120_000);

  describe('probe-side anomalies: a Warning Event with the reason and the machine_identity_anomalies gauge', () => {
    it.each([
      [AnomalyReason.UnknownCertificate, 'unknown', 'a self-signed certificate nobody issued'],
      [AnomalyReason.UnknownAuthority, 'authority', 'a certificate from a CA no binding knows'],
      [
        AnomalyReason.UnknownAuthority,
        'lookalike',
        "a certificate from a CA named like the cluster's own (another key)",
      ],
      [AnomalyReason.NameMismatch, 'mismatch', "another identity's certificate (not covering the SNI)"],
      [AnomalyReason.WeakTLS, 'weak', 'a TLS 1.1-only server'],
    ])(
      '%s: %s serves %s',
      async (reason, name, _what: string) => {
        const t0 = await annotate(name, VALIDATE_REQUESTED_AT);
        const ev = await waitFor(
          `a ${reason} Warning Event`,
          async () => {
            // about this workload's Service, or naming its pod's address
            const l = await c.core.listEventForAllNamespaces({ fieldSelector: `reason=${reason}` });
            return l.items.find(
              (x) =>
                x.type === 'Warning' &&
                (x.involvedObject.name === name || (x.message ?? '').includes(`${podIp.get(name) ?? '-'}:`)),
            );
          },
          90_000,
          1000,
        );
        const gauge = await waitFor(
          `machine_identity_anomalies{anomaly="${reason}"}`,
          async () => {
            const r =
              (await prom?.query(
                `machine_identity_anomalies{anomaly="${reason}", namespace="${APP}", name="${name}"} > 0`,
              )) ?? [];
            return r.length > 0 ? r : undefined;
          },
          60_000,
          2000,
        );
        log(
          `${reason} after ${secondsSince(t0)} s: Event on ${ev.involvedObject.kind} ${ev.involvedObject.namespace}/${ev.involvedObject.name}: ${ev.message}; gauge ${JSON.stringify(gauge.map((g) => g.metric))}`,
        );
        expect(ev.message).not.toMatch(/PRIVATE KEY/);
        expect(gauge.map((g) => g.metric.kind)).toContain('Service');
      },
      180_000,
    );
  });

  it('the real node is still healthy at the end (nothing the prober did hurt a pod)', async () => {
    c.node.assertRunning();
    for (const name of ['stale', 'reload', 'mtls', 'edge', 'weak'])
      expect((await podsOf(name)).every((p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) === 0)).toBe(true);
  });
});
