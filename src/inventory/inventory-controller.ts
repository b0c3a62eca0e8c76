// Reconciler: the inventory snapshot. One key; any change to what it reads (debounced) or a minute
// passing rebuilds every entry from the informers' projections, publishes violations of discovered
// certificates (metrics, policy status) and records a Warning Event on an object when one of its
// certificates starts to break a policy.
import { identityFields } from '../crds/index.ts';
import { X509Certificate } from 'node:crypto';
import { Controller } from '../runtime/reconcile-loop.ts';
import { Reason } from '../crds/reasons.ts';
import { recordEvent } from '../controllers/events.ts';
import type { OperatorContext } from '../controllers/context.ts';
import { pemBlocks } from '../pki/pem.ts';
import { parseCertificateDer } from '../pki/certs.ts';
import { formatViolations } from '../policy/evaluate.ts';
import type { Violation } from '../policy/types.ts';
import { buildEntries, type InventoryEntry, type KnownCa, type ManagedIdentity } from './model.ts';
import type { InventorySources } from './sources.ts';
import { addIssuance, attachAnomalies, HOUR_MS, keyAnomalies, keyHoldings, reissueLoops } from './anomalies.ts';
import { applyMuting } from '../validation/muting.ts';
import type { AnomalyStore } from '../validation/anomaly-store.ts';
import type { MachineIdentityModel } from '../crds/index.ts';

const KEY = 'inventory';
const RESYNC_MS = 60_000;
const DEBOUNCE_MS = 2_000;
const API_VERSION: Record<string, string> = {
  Secret: 'v1',
  ConfigMap: 'v1',
  ValidatingWebhookConfiguration: 'admissionregistration.k8s.io/v1',
  MutatingWebhookConfiguration: 'admissionregistration.k8s.io/v1',
  APIService: 'apiregistration.k8s.io/v1',
  CustomResourceDefinition: 'apiextensions.k8s.io/v1',
};

export interface InventoryController {
  controller: Controller;
  snapshot(): readonly InventoryEntry[] | undefined;
}

/** CA certificates of every authority the operator runs (its trust bundle), parsed once per bundle. */
export function knownCas(ctx: OperatorContext, memo: Map<string, KnownCa[]>): KnownCa[] {
  const out: KnownCa[] = [];
  for (const b of ctx.informers.bindings.list()) {
    const name = b.metadata?.name ?? '';
    const pem = ctx.issuers.get(name)?.health.caBundlePem;
    if (!pem) continue;
    const k = `${name}\0${pem}`;
    let cas = memo.get(k);
    if (!cas) {
      cas = bundleCas(name, pem);
      if (memo.size > 256) memo.clear();
      memo.set(k, cas);
    }
    out.push(...cas);
  }
  return out;
}

function bundleCas(authority: string, pem: string): KnownCa[] {
  const cas: KnownCa[] = [];
  try {
    for (const der of pemBlocks(pem, ['CERTIFICATE'])) {
      const f = parseCertificateDer(der);
      cas.push({
        authority,
        subjectDN: f.subjectDN,
        fingerprintSHA256: new X509Certificate(der).fingerprint256,
        ...(f.subjectKeyId ? { subjectKeyId: f.subjectKeyId } : {}),
      });
    }
  } catch {
    /* the binding controller reports an unusable CA */
  }
  return cas;
}

function identityMap(ctx: OperatorContext): Map<string, ManagedIdentity> {
  const m = new Map<string, ManagedIdentity>();
  for (const mi of ctx.informers.identities.list()) {
    const s = identityFields(mi);
    if (!s.secretName) continue;
    const v: ManagedIdentity = { name: mi.metadata?.name ?? '' };
    if (s.owner?.team) v.ownerTeam = s.owner.team;
    if (s.authorityRef?.name) v.authority = s.authorityRef.name;
    m.set(`${mi.metadata?.namespace}/${s.secretName}`, v);
  }
  return m;
}

/** Issuance times per identity (`namespace/name`), from the status.revision changes the informer shows. */
function issuanceTracker(ctx: OperatorContext): Map<string, number[]> {
  const times = new Map<string, number[]>();
  const keep = ctx.config.validation.reissueLoopThreshold + 1;
  const key = (mi: MachineIdentityModel): string => `${mi.metadata.namespace}/${mi.metadata.name}`;
  ctx.informers.identities
    .onUpdate((o, n) => {
      const rev = n.status?.revision;
      if (rev === undefined || rev === o.status?.revision) return;
      times.set(key(n), addIssuance(times.get(key(n)) ?? [], ctx.now().getTime(), keep));
    })
    .onDelete((mi) => {
      times.delete(key(mi));
    });
  return times;
}

export function inventoryController(
  ctx: OperatorContext,
  sources: InventorySources,
  ownerKeys: readonly string[],
  anomalies?: AnomalyStore,
): InventoryController {
  let snapshot: InventoryEntry[] | undefined;
  const issuances = issuanceTracker(ctx);
  const verdicts = new Map<string, Violation[]>();
  const caMemo = new Map<string, KnownCa[]>();
  /** Holder/key/fingerprint → the violations last announced by an Event. */
  const announced = new Map<string, string>();

  const controller = new Controller({
    name: 'inventory',
    logger: ctx.log,
    registry: ctx.registry,
    workers: 1,
    informers: [
      ...sources.all(),
      ...sources.holders, // the view of the managed-Secret informer is not in all(): the issuance controller's
      ctx.informers.identities,
      ctx.informers.namespaces,
      ctx.informers.bindings,
      ctx.policies.informer,
    ],
    reconcile: async () => {
      const namespaces = new Map(
        ctx.informers.namespaces
          .list()
          .map((n) => [
            n.metadata?.name ?? '',
            { labels: n.metadata?.labels ?? {}, annotations: n.metadata?.annotations ?? {} },
          ]),
      );
      const objects = sources.holders.flatMap((i) => i.list());
      const identities = identityMap(ctx);
      const entries = buildEntries({
        objects,
        pods: sources.pods.list(),
        tls: sources.tls.flatMap((i) => i.list()),
        knownCas: knownCas(ctx, caMemo),
        identities,
        namespaces,
        ownerKeys,
        policies: ctx.policies.compiled(),
        verdicts,
      });
      const now = ctx.now().getTime();
      for (const [k, ts] of issuances) if (ts.every((t) => t <= now - HOUR_MS)) issuances.delete(k);
      const found = applyMuting(
        [
          ...keyAnomalies(keyHoldings(objects, identities)),
          ...reissueLoops(issuances, now, ctx.config.validation.reissueLoopThreshold),
        ],
        (n) => namespaces.get(n)?.annotations,
      );
      attachAnomalies(entries, found);
      snapshot = entries;
      await anomalies?.setInventory(found);
      if (verdicts.size > 4 * entries.length + 1000) verdicts.clear(); // stale resourceVersions
      // managed certificates are reported on their MachineIdentity (PolicyCompliant) by the issuance controller
      const discovered = entries.filter((e) => !e.managed && e.violations.length > 0);
      ctx.findings.setDiscovered(
        discovered.map((e) => ({ namespace: e.namespace, kind: e.kind, name: e.name, violations: e.violations })),
      );
      await announce(discovered);
      return { requeueAfterMs: RESYNC_MS };
    },
  });

  async function announce(discovered: InventoryEntry[]): Promise<void> {
    const seen = new Set<string>();
    for (const e of discovered) {
      const k = `${e.kind}/${e.namespace}/${e.name}/${e.cert.key}/${e.cert.fingerprintSHA256}`;
      seen.add(k);
      const sig = e.violations.map((v) => `${v.policy}:${v.rule}`).join(',');
      if (announced.get(k) === sig) continue;
      announced.set(k, sig);
      const message = `${e.cert.key} (${e.cert.subjectDN || 'no subject'}, serial ${e.cert.serialNumber}): ${formatViolations(e.violations, 'violates')}`;
      await recordEvent(
        ctx,
        {
          apiVersion: API_VERSION[e.kind] ?? 'v1',
          kind: e.kind,
          name: e.name,
          ...(e.namespace ? { namespace: e.namespace } : {}),
        },
        'Warning',
        Reason.PolicyViolation,
        message,
      );
    }
    for (const k of announced.keys()) if (!seen.has(k)) announced.delete(k);
  }

  const poke = (): void => controller.queue.addAfter(KEY, DEBOUNCE_MS);
  for (const i of sources.all()) i.onAdd(poke).onUpdate(poke).onDelete(poke);
  for (const h of sources.holders) if (!sources.all().includes(h as never)) h.onAdd(poke).onUpdate(poke).onDelete(poke);
  sources.onParsed(poke); // a pending projection got its facts
  ctx.informers.identities.onAdd(poke).onUpdate(poke).onDelete(poke);
  ctx.informers.bindings.onAdd(poke).onUpdate(poke).onDelete(poke);
  ctx.issuers.onChange(() => {
    verdicts.clear();
    poke();
  }); // which CA signed what may change
  // policies or namespace labels changed: every cached verdict may be wrong
  const reset = (): void => {
    verdicts.clear();
    poke();
  };
  ctx.policies.onChange(reset);
  ctx.informers.namespaces.onAdd(reset).onUpdate((o, n) => {
    if (JSON.stringify(o.metadata?.labels) !== JSON.stringify(n.metadata?.labels)) reset();
    else poke();
  });
  controller.queue.add(KEY);
  return { controller, snapshot: () => snapshot };
}
