// Assembles the operator: informers (hot on every replica, so a standby takes over with a warm
// cache), controllers (workers run only on the leader), leader election and the ops HTTP server.
import * as k8s from '@kubernetes/client-node';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import type { OperatorConfig } from './config.ts';
import { Informer } from './runtime/informer.ts';
import type { Controller } from './runtime/reconcile-loop.ts';
import { elect } from './operator-leader.ts';
import { startOpsServer, type OpsServer } from './runtime/ops-server.ts';
import type { OperatorContext } from './controllers/context.ts';
import { toBindingModel, toMachineIdentityModel, type BindingModel, type MachineIdentityModel } from './crds/index.ts';
import { issuanceController } from './controllers/issuance/issuance-controller.ts';
import { rolloutController } from './controllers/rollout.ts';
import { ValidationMetrics } from './validation/validation-metrics.ts';
import { registerIdentityMetrics } from './controllers/identity-metrics.ts';
import { bindingUsageController } from './controllers/binding-usage.ts';
import { authorityBindingController } from './controllers/authority-binding/authority-binding-controller.ts';
import { IssuerCache } from './issuers/cache.ts';
import { startWebhook } from './webhook/webhook.ts';
import { http01Responder } from './issuers/acme/http01.ts';
import {
  createHolderProjector,
  createSources,
  type HolderProjector,
  type InventorySources,
  type WithHolder,
} from './inventory/sources.ts';
import { createRefSources, gatewayApiServed } from './inventory/ref-sources.ts';
import { validationParts } from './validation/validation-parts.ts';
import { inventoryController } from './inventory/inventory-controller.ts';
import { registerInventoryMetrics } from './inventory/inventory-metrics.ts';
import { AnomalyStore, eventAnnouncer } from './validation/anomaly-store.ts';
import { podCertificateController, podCertificateRequests } from './controllers/signer/pod-certificate-controller.ts';
import { podCertificatesNotServedNotice } from './controllers/signer/not-served-notice.ts';
import { csrController, csrInformer } from './controllers/signer/csr-controller.ts';
import { trustBundleController, trustBundlesServed } from './controllers/signer/trust-bundles.ts';
import { PolicyStore, type PolicyObject } from './controllers/issuance-policies/store.ts';
import { PolicyFindings } from './controllers/issuance-policies/findings.ts';
import { policyStatusController } from './controllers/issuance-policies/status-controller.ts';
import { Parser } from './parsing/parser.ts';
import { projectManagedSecret, type ProjectedSecret } from './controllers/issuance/inspect.ts';
import { eventLoopDelayMetrics } from './monitoring/event-loop.ts';

export interface Operator {
  readonly url: string;
  /** Resolves when the operator must exit: leadership lost (code 1) or stop() called (code 0). */
  readonly done: Promise<number>;
  stop(): Promise<void>;
}

/** What the operator starts and stops besides the core: informers (hot on every replica) and controllers (leader only). */
interface Parts {
  informers: { start(): unknown; stop(): Promise<void>; hasSynced(): boolean }[];
  controllers: Controller[];
}

/** Anomalies of the inventory and of what endpoints serve: the machine_identity_anomalies gauge and Warning Events. */
function anomalyStore(ctx: OperatorContext): AnomalyStore {
  return new AnomalyStore({
    registry: ctx.registry,
    announce: eventAnnouncer(ctx),
    namespaceAnnotations: (ns) => ctx.informers.namespaces.get(ns)?.metadata?.annotations,
  });
}

function buildContext(
  config: OperatorConfig,
  kc: k8s.KubeConfig,
  log: Logger,
  registry: Registry,
  parser: Parser,
  projector: HolderProjector | undefined,
): OperatorContext {
  const informer = <T extends k8s.KubernetesObject>(
    path: string,
    transform?: (obj: k8s.KubernetesObject) => T,
  ): Informer<T> => new Informer<T>({ kc, path, registry, logger: log, ...(transform ? { transform } : {}) });
  return {
    kc,
    co: kc.makeApiClient(k8s.CustomObjectsApi),
    config,
    registry,
    log,
    now: () => new Date(),
    parser,
    informers: {
      // our own kinds are parsed once per resourceVersion, in the informer: every controller gets typed values
      identities: informer<MachineIdentityModel>(
        '/apis/machineidentity.io/v1alpha1/machineidentities',
        toMachineIdentityModel,
      ),
      bindings: informer<BindingModel>(
        '/apis/machineidentity.io/v1alpha1/certificateauthoritybindings',
        toBindingModel,
      ),
      namespaces: informer<k8s.V1Namespace>('/api/v1/namespaces'),
      operatorSecrets: informer<k8s.V1Secret>(`/api/v1/namespaces/${config.namespace}/secrets`),
      managedSecrets: new Informer<ProjectedSecret>({
        kc,
        path: '/api/v1/secrets',
        labelSelector: 'machineidentity.io/identity',
        registry,
        logger: log,
        resource: 'secrets',
        transform: (raw) => {
          const p: ProjectedSecret & WithHolder = projectManagedSecret(raw as k8s.V1Secret, parser);
          if (projector) p.inventory = projector.project('Secret', raw);
          return p;
        },
      }),
    },
    issuers: new IssuerCache(),
    policies: new PolicyStore(informer<PolicyObject>('/apis/machineidentity.io/v1alpha1/issuancepolicies')),
    findings: new PolicyFindings(registry),
  };
}

/** The discovery inventory, when enabled; `sources` are shared with validation. */
async function inventoryParts(
  ctx: OperatorContext,
  projector: HolderProjector | undefined,
  anomalies: AnomalyStore,
  hasGateways: boolean,
): Promise<Parts & { sources?: InventorySources }> {
  const { config, kc, registry, log } = ctx;
  if (!projector) return { informers: [], controllers: [] };
  const sources = createSources({
    kc,
    registry,
    logger: log,
    hasGateways,
    projector,
    managedSecrets: ctx.informers.managedSecrets,
  });
  const inventory = inventoryController(ctx, sources, config.inventory.ownerKeys, anomalies);
  registerInventoryMetrics(registry, inventory.snapshot);
  return { informers: sources.all(), controllers: [inventory.controller], sources };
}

/**
 * Validation of what is served (src/validation/): it reads the inventory's Pod/Ingress/Gateway caches and
 * certificate facts; without the inventory it keeps its own Pod/Ingress/Gateway projections and knows no
 * discovered certificates (only managed identities are validated then).
 */
function validationPartsOf(
  ctx: OperatorContext,
  inventory: InventorySources | undefined,
  hasGateways: boolean,
  anomalies: AnomalyStore,
): Parts & { close(): Promise<void> } {
  const metrics = new ValidationMetrics(ctx.registry);
  if (!ctx.config.validation.enabled) return { informers: [], controllers: [], close: async () => undefined };
  const refs = inventory ?? createRefSources({ kc: ctx.kc, registry: ctx.registry, logger: ctx.log, hasGateways });
  const holders = inventory?.holders ?? [];
  const parts = validationParts(ctx, {
    refs,
    holders: () => holders.flatMap((h) => h.list()),
    secretHolder: (ns, name) => inventory?.secret(ns, name),
    hasGateways,
    metrics,
    anomalies,
  });
  const own = inventory ? [] : [refs.pods, ...refs.tls];
  return { ...parts, informers: [...parts.informers, ...own] };
}

/**
 * Kubernetes signer for machineidentity.io/<binding>: PodCertificateRequests (v1 or v1beta1: only when served),
 * CertificateSigningRequests, and a ClusterTrustBundle per signer.
 */
async function signerParts(ctx: OperatorContext): Promise<Parts> {
  if (!ctx.config.signer.enabled) return { informers: [], controllers: [] };
  const pcrs = await podCertificateRequests(ctx); // undefined when certificates.k8s.io serves neither v1 nor v1beta1
  const csrs = csrInformer(ctx);
  const controllers: Controller[] = [
    ...(pcrs ? [podCertificateController(ctx, pcrs)] : [podCertificatesNotServedNotice(ctx)]),
    csrController(ctx, csrs),
    ...((await trustBundlesServed(ctx)) ? [trustBundleController(ctx)] : []),
  ];
  return { informers: [...(pcrs ? [pcrs] : []), csrs], controllers };
}

export async function startOperator(config: OperatorConfig, kc: k8s.KubeConfig, log: Logger): Promise<Operator> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const loopDelay = eventLoopDelayMetrics(registry);
  const parser = new Parser(config.parse, registry, log.child({ component: 'parse-pool' }));
  // the inventory's projection of a Secret is made by the managed-Secret informer for the labelled ones (one watch)
  const projector = config.inventory.enabled
    ? createHolderProjector({ registry, logger: log, ownerKeys: config.inventory.ownerKeys, parser })
    : undefined;
  const ctx = buildContext(config, kc, log, registry, parser, projector);
  const anomalies = anomalyStore(ctx);
  const hasGateways = await gatewayApiServed(kc);
  const inventory = await inventoryParts(ctx, projector, anomalies, hasGateways);
  const validation = validationPartsOf(ctx, inventory.sources, hasGateways, anomalies);
  const signer = await signerParts(ctx);
  const informers = [
    ...Object.values(ctx.informers),
    ctx.policies.informer,
    ...inventory.informers,
    ...validation.informers,
    ...signer.informers,
  ];
  const controllers: Controller[] = [
    issuanceController(ctx, {
      durableKeys: config.issuance.durableKeys,
      reissueRatePerSecond: config.issuance.reissueRatePerSecond,
    }),
    bindingUsageController(ctx),
    authorityBindingController(ctx),
    rolloutController(ctx),
    policyStatusController(ctx, ctx.policies, ctx.findings),
    ...inventory.controllers,
    ...validation.controllers,
    ...signer.controllers,
  ];
  registerIdentityMetrics(registry, ctx.informers.identities, log);
  for (const i of informers) i.start();

  let webhookListening = false;
  const ops: OpsServer = await startOpsServer({
    host: config.http.host,
    port: config.http.port,
    registry,
    logger: log,
    // ready once the admission webhook (when on) listens too: a Service must not send the API server's
    // admission requests to a replica that would refuse the connection
    ready: () => webhookListening && informers.every((i) => i.hasSynced()),
  });
  log.info({ url: ops.url, metrics: `${ops.url}/metrics` }, 'ops server listening');
  // every replica answers admission requests from its own warm caches, leader or not
  const webhook = await startWebhook(ctx);
  webhookListening = true;
  if (config.acmeHttp01)
    log.info(
      { url: await http01Responder.listen(config.acmeHttp01.host, config.acmeHttp01.port) },
      'ACME HTTP-01 listener',
    );

  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => {
    finish = r;
  });
  let stopping = false;
  const elector = elect(
    ctx,
    () => {
      for (const c of controllers) void c.start();
    },
    () => {
      if (!stopping) {
        log.error('leadership lost; exiting');
        finish(1);
      }
    },
  );

  return {
    url: ops.url,
    done,
    async stop(): Promise<void> {
      if (stopping) return;
      stopping = true;
      await Promise.all(controllers.map((c) => c.stop()));
      await validation.close();
      await elector?.release();
      await webhook?.stop();
      await http01Responder.close();
      await Promise.all(informers.map((i) => i.stop()));
      await parser.close();
      loopDelay.stop();
      await ops.close();
      finish(0);
    },
  };
}
