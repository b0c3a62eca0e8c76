// The informers the inventory reads, each keeping a projection (parsed certificate facts, or the
// references a Pod or Ingress makes) instead of the object: Secret data never stays in memory.
// Nothing is parsed on the event loop: the transform only sniffs which values may hold certificates
// and hands a copy of those to the parse pool; the projection is `pending` until the worker answers,
// then its facts (or findings) are attached in place and onParsed listeners are told.
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { Informer } from '../runtime/informer.ts';
import type { Extracted } from './extract.ts';
import { RecordInterner } from './intern.ts';
import { oversizeFinding, slimBytes, slimForParse } from './slim.ts';
import type { InventoryObject, PodRefs, TlsRefs } from './model.ts';
import { createRefSources } from './ref-sources.ts';
import { acceptSeeds, contentDigest, takeSeed } from './seed.ts';
import type { Parser } from '../parsing/parser.ts';

export interface InventorySources {
  holders: HolderSource[];
  /** The inventory's projection of one Secret (`namespace/name`), labelled or not. */
  secret(namespace: string, name: string): Holder | undefined;
  pods: Informer<PodRefs & k8s.KubernetesObject>;
  tls: Informer<TlsRefs & k8s.KubernetesObject>[];
  all(): Informer<k8s.KubernetesObject>[];
  /** Called after a pending projection got its parsed facts. */
  onParsed(fn: () => void): void;
}

/** The label of the Secrets the managed-Secret informer watches (src/operator.ts); the inventory's own watch excludes them. */
const MANAGED_SECRET_LABEL = 'machineidentity.io/identity';

type Meta = k8s.V1ObjectMeta;

function slimMeta(m: Meta | undefined, keepAnnotations: readonly string[]): InventoryObject['metadata'] {
  const out: InventoryObject['metadata'] = { name: m?.name ?? '', ...identityMeta(m) };
  if (m?.labels && Object.keys(m.labels).length) out.labels = m.labels;
  const ann = keptAnnotations(m?.annotations, keepAnnotations);
  if (ann) out.annotations = ann;
  return out;
}

/** namespace, uid and resourceVersion when set. */
function identityMeta(m: Meta | undefined): Omit<InventoryObject['metadata'], 'name'> {
  const out: Omit<InventoryObject['metadata'], 'name'> = {};
  if (m?.namespace) out.namespace = m.namespace;
  if (m?.uid) out.uid = m.uid;
  if (m?.resourceVersion) out.resourceVersion = m.resourceVersion;
  return out;
}

/** The annotations the inventory reads (owner keys), each cut to 256 characters; undefined when none is set. */
function keptAnnotations(
  annotations: Record<string, string> | undefined,
  keys: readonly string[],
): Record<string, string> | undefined {
  const ann: Record<string, string> = {};
  for (const k of keys) {
    const v = annotations?.[k];
    if (v !== undefined) ann[k] = v.slice(0, 256);
  }
  return Object.keys(ann).length ? ann : undefined;
}

type Holder = InventoryObject & k8s.KubernetesObject;
/** What the inventory reads of a holder informer (an Informer, or the view of the managed-Secret informer below). */
type HolderSource = Pick<
  Informer<Holder>,
  'resource' | 'synced' | 'hasSynced' | 'get' | 'list' | 'onAdd' | 'onUpdate' | 'onDelete'
>;
/** A managed-Secret projection that also carries the inventory's projection of the same Secret (one watch, not two). */
export type WithHolder = k8s.KubernetesObject & { inventory?: Holder };
/** Parse answers remembered by content digest (facts only, shared with the projections that hold them). */
const MAX_ANSWERS = 1_000;

/** Builds the inventory's projection of a raw object (parse started in the pool); shared by every holder informer. */
export interface HolderProjector {
  project(kind: string, raw: k8s.KubernetesObject): Holder;
  onParsed(fn: () => void): void;
}

export function createSources(o: {
  kc: k8s.KubeConfig;
  registry: Registry;
  logger: Logger;
  hasGateways: boolean;
  projector: HolderProjector;
  /**
   * The managed-Secret informer (label machineidentity.io/identity), whose projections carry `inventory`
   * (its transform calls `projector.project`). The inventory's Secret watch then takes the others only
   * (`!machineidentity.io/identity`): every Secret is watched and held once. The two selectors are exact
   * complements, so a Secret that gains or loses the label moves from one watch to the other (DELETED in one,
   * ADDED in the other) and is never in neither: labelling a Secret cannot hide it from the inventory.
   */
  managedSecrets?: Informer<WithHolder>;
}): InventorySources {
  const project = (kind: string) => (raw: k8s.KubernetesObject) => o.projector.project(kind, raw);
  const holder = (kind: string, path: string, labelSelector?: string): Informer<Holder> =>
    new Informer({
      kc: o.kc,
      path,
      registry: o.registry,
      logger: o.logger,
      resource: `inventory-${kind.toLowerCase()}`,
      ...(labelSelector ? { labelSelector } : {}),
      transform: project(kind),
    });
  const secrets = holder('Secret', '/api/v1/secrets', o.managedSecrets ? `!${MANAGED_SECRET_LABEL}` : undefined);
  const managed = o.managedSecrets ? managedView(o.managedSecrets) : undefined;
  const holders: HolderSource[] = [
    secrets,
    ...(managed ? [managed] : []),
    holder('ConfigMap', '/api/v1/configmaps'),
    holder('ValidatingWebhookConfiguration', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations'),
    holder('MutatingWebhookConfiguration', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations'),
    holder('APIService', '/apis/apiregistration.k8s.io/v1/apiservices'),
    holder('CustomResourceDefinition', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions'),
  ];
  // the informers this part starts and stops: the managed one is the issuance controller's, started with it
  const own = holders.filter((h): h is Informer<Holder> => h instanceof Informer);
  const { pods, tls } = createRefSources(o);
  return {
    holders,
    secret: (namespace, name) => secrets.get(`${namespace}/${name}`) ?? managed?.get(`${namespace}/${name}`),
    pods,
    tls,
    all: () => [...own, pods, ...tls] as unknown as Informer<k8s.KubernetesObject>[],
    onParsed: (fn) => o.projector.onParsed(fn),
  };
}

/**
 * The managed-Secret informer seen as a holder informer: each projection's `inventory` part. A projection
 * without one (made before the inventory was wired, never in practice) counts as a Secret holding nothing.
 */
function managedView(inner: Informer<WithHolder>): HolderSource {
  const pick = (s: WithHolder): Holder =>
    s.inventory ?? {
      kind: 'Secret',
      metadata: { name: s.metadata?.name ?? '', ...identityMeta(s.metadata) },
      certs: [],
      problems: [],
    };
  const view: HolderSource = {
    resource: 'inventory-managed-secret',
    synced: inner.synced,
    hasSynced: () => inner.hasSynced(),
    get: (key) => {
      const s = inner.get(key);
      return s && pick(s);
    },
    list: () => inner.list().map(pick),
    onAdd: (fn) => {
      inner.onAdd((s) => fn(pick(s)));
      return view as Informer<Holder>;
    },
    onUpdate: (fn) => {
      inner.onUpdate((a, b) => fn(pick(a), pick(b)));
      return view as Informer<Holder>;
    },
    onDelete: (fn) => {
      inner.onDelete((s) => fn(pick(s)));
      return view as Informer<Holder>;
    },
  };
  return view;
}

/** The inventory's projection of raw objects, and the parse of what may hold certificates. */
export function createHolderProjector(o: {
  registry: Registry;
  logger: Logger;
  ownerKeys: readonly string[];
  parser: Parser;
}): HolderProjector {
  const parseErrors = new Counter({
    name: 'machine_identity_inventory_parse_errors_total',
    help: 'Values that looked like certificates but could not be read, by reason (over a budget, malformed, parse stopped); logged once per object version',
    labelNames: ['kind', 'reason'] as const,
    registers: [o.registry],
  });
  parseErrors.inc({ kind: 'Secret', reason: 'unreadable' }, 0);
  const log = o.logger.child({ component: 'inventory' });
  const parsed: (() => void)[] = [];
  // content digest → the pool's answer: identical content (the same CA bundle in every namespace, a copied
  // Secret, a bomb pasted a hundred times) is parsed once and its facts shared; bounded, oldest out first
  const answers = new Map<string, Promise<Extracted>>();
  // a Secret the issuance just wrote comes with its facts (seed.ts): exactly that content needs no parse
  acceptSeeds();
  const answerFor = (kind: string, slim: Record<string, unknown>): Promise<Extracted> => {
    const digest = contentDigest(kind, slim);
    let answer = answers.get(digest);
    if (!answer) {
      const seeded = takeSeed(digest);
      answer = seeded ? Promise.resolve(seeded) : o.parser.extract(kind, slim);
      answers.set(digest, answer);
      const oldest = answers.keys().next();
      if (answers.size > MAX_ANSWERS && !oldest.done) answers.delete(oldest.value);
    }
    return answer;
  };
  const records = new RecordInterner();
  const attach = (p: Holder, x: Extracted, meta: k8s.V1ObjectMeta | undefined): void => {
    p.certs = x.certs.map((r) => records.intern(r));
    p.problems = x.problems;
    if (x.keys?.length) p.keys = x.keys;
    else delete p.keys;
    delete p.pending;
    if (x.problems.length) {
      for (const pr of x.problems) parseErrors.inc({ kind: p.kind, reason: pr.code ?? 'unreadable' });
      log.warn(
        {
          kind: p.kind,
          namespace: meta?.namespace,
          name: meta?.name,
          resourceVersion: meta?.resourceVersion,
          problems: x.problems.slice(0, 5),
        },
        'unreadable certificate content',
      );
    }
    for (const fn of parsed) fn();
  };
  return {
    onParsed: (fn) => {
      parsed.push(fn);
    },
    project: (kind, raw) => {
      const p: Holder = {
        apiVersion: raw.apiVersion,
        kind,
        metadata: slimMeta(raw.metadata, o.ownerKeys),
        certs: [],
        problems: [],
      };
      let slim: Record<string, unknown> | undefined;
      try {
        slim = slimForParse(kind, raw as unknown as Record<string, unknown>);
      } catch {
        slim = undefined;
      }
      if (!slim) return p;
      const meta = {
        namespace: raw.metadata?.namespace,
        name: raw.metadata?.name,
        resourceVersion: raw.metadata?.resourceVersion,
      };
      const bytes = slimBytes(kind, slim);
      if (bytes > o.parser.budget.maxObjectBytes) {
        attach(p, oversizeFinding(bytes, o.parser.budget.maxObjectBytes), meta);
        return p;
      }
      p.pending = true;
      // only the slimmed copy and the metadata needed to report are held until the worker answers
      void answerFor(kind, slim).then((x) => attach(p, x, meta));
      return p;
    },
  };
}
