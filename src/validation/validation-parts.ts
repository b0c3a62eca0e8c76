// Wiring of validation: the informers it reads (its own plus the inventory's shared Pod/Ingress/Gateway
// caches), the target map rebuilt (debounced) when any of them changes, the prober, and the
// validation controller with what it needs from the inventory (chain lengths, known certificates and
// CAs for the probe-side anomalies).
import { createHash, X509Certificate } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { OperatorContext } from '../controllers/context.ts';
import type { Controller } from '../runtime/reconcile-loop.ts';
import type { Informer } from '../runtime/informer.ts';
import { identityFields, type MachineIdentityModel } from '../crds/index.ts';
import { pemBlocks } from '../pki/pem.ts';
import { parseCertificateDer } from '../pki/certs.ts';
import type { InventoryObject, KnownCa } from '../inventory/model.ts';
import type { RefSources } from '../inventory/ref-sources.ts';
import { knownCas } from '../inventory/inventory-controller.ts';
import { createValidationSources } from './sources.ts';
import { mapTargets, targetsBySecret, unresolvedBySecret } from './targets.ts';
import { discoveredSecrets, ownWebhookServing } from './target-inputs.ts';
import type { TargetIdentity, Unresolved } from './target-index.ts';
import { Prober } from './prober.ts';
import { validationController } from './validation-controller.ts';
import { secretValidationController, type HeldBySecret } from './secret-validation.ts';
import type { ValidationMetrics } from './validation-metrics.ts';
import type { AnomalyStore } from './anomaly-store.ts';
import { servedAnomalies, type KnownCertificates } from './served-anomalies.ts';
import type { BundleCa } from './verdict.ts';
import type { ProbeResult, ServeTarget } from './types.ts';

const REBUILD_DEBOUNCE_MS = 1_000;

/** Secrets something may serve (`namespace/name`): mounted by a Pod, named by an Ingress or Gateway. */
function referencedSecrets(refs: RefSources): Set<string> {
  const out = new Set<string>();
  for (const p of refs.pods.list()) for (const m of p.mounted) out.add(`${p.metadata.namespace}/${m}`);
  for (const t of refs.tls.flatMap((i) => i.list())) for (const s of t.secrets) out.add(`${t.metadata.namespace}/${s}`);
  return out;
}
const MAX_BUNDLE_MEMO = 256;

export interface ValidationParts {
  informers: Informer<k8s.KubernetesObject>[];
  controllers: Controller[];
  close(): Promise<void>;
}

function identities(ctx: OperatorContext): TargetIdentity[] {
  const out: TargetIdentity[] = [];
  for (const mi of ctx.informers.identities.list()) {
    const s = identityFields(mi);
    if (!s.secretName) continue;
    out.push({
      namespace: mi.metadata.namespace,
      name: mi.metadata.name,
      secretName: s.secretName,
      dnsNames: s.dnsNames ?? [],
      ipAddresses: s.ipAddresses ?? [],
    });
  }
  return out;
}

/** CA certificates of a caBundle (a cluster-scoped object only cluster admins write, at most 64 KiB), memoized. */
function bundleParser(): (pem: string) => BundleCa[] {
  const memo = new Map<string, BundleCa[]>();
  return (pem) => {
    const k = createHash('sha256').update(pem).digest('base64');
    let cas = memo.get(k);
    if (cas) return cas;
    cas = [];
    try {
      for (const der of pemBlocks(pem, ['CERTIFICATE']).slice(0, 32)) {
        const f = parseCertificateDer(der);
        cas.push({
          subjectDN: f.subjectDN,
          fingerprintSHA256: new X509Certificate(der).fingerprint256,
          ...(f.subjectKeyId ? { subjectKeyId: f.subjectKeyId } : {}),
        });
      }
    } catch {
      /* an unreadable bundle trusts nothing: the endpoint is Untrusted */
    }
    if (memo.size >= MAX_BUNDLE_MEMO) memo.clear();
    memo.set(k, cas);
    return cas;
  };
}

const CLUSTER_KINDS = new Set([
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'APIService',
  'CustomResourceDefinition',
]);

/**
 * What the inventory knows, for the probe-side anomalies: every certificate it found, and as CAs those of
 * the bindings plus the CA certificates in cluster-scoped caBundles and the cluster's kube-root-ca.crt
 * (objects only cluster admins and the control plane write; a tenant's ConfigMap does not make a CA known).
 */
function knownCertificates(ctx: OperatorContext, holders: () => readonly InventoryObject[]): () => KnownCertificates {
  const caMemo = new Map<string, KnownCa[]>();
  let cached: { at: number; known: KnownCertificates } | undefined;
  return () => {
    const now = Date.now();
    if (cached && now - cached.at < 5_000) return cached.known;
    const fingerprints = new Set<string>();
    const cas: KnownCa[] = [...knownCas(ctx, caMemo)];
    for (const o of holders()) {
      const admin = CLUSTER_KINDS.has(o.kind) || (o.kind === 'ConfigMap' && o.metadata.name === 'kube-root-ca.crt');
      for (const c of o.certs) {
        fingerprints.add(c.fingerprintSHA256);
        if (admin && c.isCA)
          cas.push({
            authority: `${o.kind}/${o.metadata.name}`,
            subjectDN: c.subjectDN,
            fingerprintSHA256: c.fingerprintSHA256,
            ...(c.subjectKeyId ? { subjectKeyId: c.subjectKeyId } : {}),
          });
      }
    }
    cached = { at: now, known: { fingerprints, cas } };
    return cached.known;
  };
}

/** The leaf a Secret holds (tls.crt first) and its chain length, from the inventory's facts. */
function heldBy(secret: (ns: string, name: string) => InventoryObject | undefined) {
  return (ns: string, name: string): HeldBySecret | undefined => {
    const certs = secret(ns, name)?.certs ?? [];
    const leaf = certs.find((c) => c.key === 'tls.crt') ?? certs.find((c) => !c.isCA);
    if (!leaf) return undefined;
    const chain = certs.filter((c) => /^tls\.crt(#\d+)?$/.test(c.key)).length;
    return {
      serialNumber: leaf.serialNumber,
      fingerprintSHA256: leaf.fingerprintSHA256,
      chainLength: Math.max(1, chain),
    };
  };
}

/** Certificates in a Secret's tls.crt (leaf and chain), from the inventory's facts; 1 when unknown. */
function chainLengths(
  secret: (ns: string, name: string) => InventoryObject | undefined,
): (ns: string, name: string) => number {
  return (ns, name) => {
    const o = secret(ns, name);
    const n = o?.certs.filter((c) => /^tls\.crt(#\d+)?$/.test(c.key)).length ?? 0;
    return Math.max(1, n);
  };
}

export function validationParts(
  ctx: OperatorContext,
  o: {
    refs: RefSources;
    /** The inventory's Secret/ConfigMap/caBundle holders (empty when the inventory is off). */
    holders: () => readonly InventoryObject[];
    secretHolder: (ns: string, name: string) => InventoryObject | undefined;
    hasGateways: boolean;
    metrics: ValidationMetrics;
    anomalies: AnomalyStore;
  },
): ValidationParts {
  const cfg = ctx.config.validation;
  const sources = createValidationSources({
    kc: ctx.kc,
    registry: ctx.registry,
    logger: ctx.log,
    hasGateways: o.hasGateways,
    refs: o.refs,
  });
  const prober = new Prober({
    concurrency: cfg.concurrency,
    timeoutMs: cfg.timeoutMs,
    logger: ctx.log.child({ component: 'prober' }),
    registry: ctx.registry,
  });
  let bySecret = new Map<string, ServeTarget[]>();
  let why = new Map<string, Unresolved[]>();
  const listeners: ((s: ReadonlySet<string> | 'all') => void)[] = [];
  const known = knownCertificates(ctx, o.holders);
  const w = ctx.config.webhook;

  let managedSecrets = new Set<string>();
  const rebuild = (): void => {
    const snapshot = sources.snapshot();
    const own = w?.configName
      ? ownWebhookServing(snapshot.webhooks, {
          configName: w.configName,
          namespace: ctx.config.namespace,
          secretName: w.secretName,
        })
      : [];
    const ids = identities(ctx);
    managedSecrets = new Set(ids.map((i) => `${i.namespace}/${i.secretName}`));
    const map = mapTargets(
      { ...snapshot, identities: ids, secrets: discoveredSecrets(o.holders()) },
      { clusterDomain: ctx.config.clusterDomain, allowedCidrs: cfg.allowedCidrs, knownServing: own },
    );
    const next = targetsBySecret(map.targets);
    const changed = new Set<string>();
    for (const [k, v] of next) if (JSON.stringify(v) !== JSON.stringify(bySecret.get(k))) changed.add(k);
    for (const k of bySecret.keys()) if (!next.has(k)) changed.add(k);
    bySecret = next;
    why = unresolvedBySecret(map.unresolved);
    if (changed.size) for (const fn of listeners) fn(changed);
  };
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    timer ??= setTimeout(() => {
      timer = undefined;
      rebuild();
    }, REBUILD_DEBOUNCE_MS);
  };
  let refCache: Set<string> | undefined; // dropped whenever a Pod, Ingress, Gateway, Service, ... changes
  sources.onChange(() => {
    refCache = undefined;
    schedule();
  });
  // an identity matters to the map only when something references its Secret (a Pod mounts it, an Ingress or
  // Gateway names it, a webhook serves it): a burst of new identities does not rebuild the map every second
  const referenced = (mi: MachineIdentityModel): boolean => {
    const s = identityFields(mi).secretName;
    refCache ??= referencedSecrets(o.refs);
    return s !== undefined && refCache.has(`${mi.metadata.namespace}/${s}`);
  };
  ctx.informers.identities
    .onAdd((mi) => {
      if (referenced(mi)) schedule();
    })
    .onUpdate((a, b) => {
      if (a.metadata.generation !== b.metadata.generation && (referenced(a) || referenced(b))) schedule();
    })
    .onDelete((mi) => {
      if (bySecret.has(`${mi.metadata.namespace}/${identityFields(mi).secretName ?? ''}`) || referenced(mi)) schedule();
    });

  const served = (key: string, target: ServeTarget, probe: ProbeResult | undefined): void => {
    const [ip = '', port = '0'] = key.slice(key.lastIndexOf('|') + 1).split(/:(?=\d+$)/);
    const findings = probe?.ok ? servedAnomalies(target, { ip, port: Number(port) }, probe, known()) : [];
    void o.anomalies.setServed(key, findings);
  };
  const bundleCas = bundleParser();
  const informers = [ctx.informers.identities, ...sources.all(), o.refs.pods, ...o.refs.tls];
  const secretsController = secretValidationController(ctx, {
    probe: (req) => prober.probe(req),
    targetsFor: (ns, secret) => bySecret.get(`${ns}/${secret}`) ?? [],
    servedSecrets: () => bySecret.keys(),
    managed: (ns, secret) => managedSecrets.has(`${ns}/${secret}`),
    held: heldBy(o.secretHolder),
    bundleCas,
    metrics: o.metrics,
    servedAnomalies: served,
    dropServedAnomalies: (key) => o.anomalies.dropServed(key),
    onTargetsChange: (fn) => listeners.push(fn),
    informers,
  });
  const controller = validationController(ctx, {
    probe: (req) => prober.probe(req),
    targetsFor: (ns, secret) => bySecret.get(`${ns}/${secret}`) ?? [],
    whyNoTargets: (ns, secret) => why.get(`${ns}/${secret}`)?.[0]?.message,
    informers: informers.slice(1),
    onTargetsChange: (fn) => listeners.push(fn),
    chainLength: chainLengths(o.secretHolder),
    bundleCas,
    metrics: o.metrics,
    servedAnomalies: served,
    dropServedAnomalies: (key) => o.anomalies.dropServed(key),
  });
  return {
    informers: sources.all(),
    controllers: [controller, secretsController],
    close: async () => {
      clearTimeout(timer);
      await prober.stop();
    },
  };
}
