// Inventory-side anomalies, pure: the same key in several places (KeyReuse), a managed identity's key
// in a Secret the operator does not write (KeyCopied), and an identity issued too often (ReissueLoop).
// Keys are compared by their public key's SHA-256 (computed in the parse worker); messages name the
// places, never key material. CA certificates (bundles, chains, trust anchors) are meant to be copied
// everywhere and never count: only leaf certificates and private keys do.
import { findingId, type AnomalyFinding, type EntryAnomaly } from '../validation/anomaly-finding.ts';
import type { InventoryEntry, InventoryObject, ManagedIdentity } from './model.ts';

/** One key in one Secret: from a leaf certificate or a private key found there. */
export interface KeyHolding {
  namespace: string;
  name: string;
  /** The MachineIdentity the operator writes this Secret for (never taken from a label: anyone can set one). */
  identity?: string;
  publicKeySHA256: string;
}

/** Data keys that hold trust anchors: a self-signed leaf distributed as a CA is not a reused key. */
const TRUST_KEY = /^(ca|root|trust)([._-]|$)|bundle|truststore/i;
/** The durable key the issuance controller stores before a remote CA answers (controllers/issuance/next-key.ts). */
const NEXT_KEY = /^(.+)-mio-next-key-\d+$/;
const OTHERS_NAMED = 3;

/** The identity whose Secret `ns/name` is: its spec.secretName, or its durable next-key Secret. */
function ownerIdentity(
  ns: string,
  name: string,
  identities: ReadonlyMap<string, ManagedIdentity>,
  namesIn: ReadonlyMap<string, ReadonlySet<string>>,
): string | undefined {
  const direct = identities.get(`${ns}/${name}`)?.name;
  if (direct) return direct;
  const next = NEXT_KEY.exec(name)?.[1];
  return next && namesIn.get(ns)?.has(next) ? next : undefined;
}

/** Identity names per namespace, from the `<namespace>/<secret>` → identity map. */
function identityNames(identities: ReadonlyMap<string, ManagedIdentity>): Map<string, Set<string>> {
  const namesIn = new Map<string, Set<string>>();
  for (const [k, v] of identities) {
    const ns = k.slice(0, k.indexOf('/'));
    namesIn.set(ns, (namesIn.get(ns) ?? new Set<string>()).add(v.name));
  }
  return namesIn;
}

/** The public keys of a Secret: of its leaf certificates (not under trust-anchor keys) and of its private keys. */
function publicKeysOf(o: InventoryObject): Set<string> {
  const fps = new Set<string>();
  for (const c of o.certs) if (!c.isCA && !TRUST_KEY.test(c.key) && c.publicKeySHA256) fps.add(c.publicKeySHA256);
  for (const k of o.keys ?? []) fps.add(k.publicKeySHA256);
  return fps;
}

/** Every key held by a Secret: leaf certificates (not under trust-anchor keys) and private keys. */
export function keyHoldings(
  objects: readonly InventoryObject[],
  identities: ReadonlyMap<string, ManagedIdentity>,
): KeyHolding[] {
  const namesIn = identityNames(identities);
  const out: KeyHolding[] = [];
  for (const o of objects) {
    if (o.kind !== 'Secret') continue;
    const ns = o.metadata.namespace ?? '';
    const identity = ownerIdentity(ns, o.metadata.name, identities, namesIn);
    for (const fp of publicKeysOf(o))
      out.push({ namespace: ns, name: o.metadata.name, publicKeySHA256: fp, ...(identity ? { identity } : {}) });
  }
  return out;
}

const where = (h: KeyHolding): string => `${h.namespace}/${h.name}`;
const short = (fp: string): string => `${fp.slice(0, 23)}…`;

function othersText(others: readonly KeyHolding[]): string {
  const named = others.slice(0, OTHERS_NAMED).map((h) => `Secret ${where(h)}`);
  const more = others.length - named.length;
  return `${named.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

function groupByKey(holdings: readonly KeyHolding[]): Map<string, KeyHolding[]> {
  const groups = new Map<string, KeyHolding[]>();
  for (const h of holdings) {
    const g = groups.get(h.publicKeySHA256) ?? [];
    if (!g.some((x) => x.namespace === h.namespace && x.name === h.name)) g.push(h);
    groups.set(h.publicKeySHA256, g);
  }
  return groups;
}

function reuseFindings(fp: string, group: readonly KeyHolding[]): AnomalyFinding[] {
  const namespaces = new Set(group.map((h) => h.namespace));
  const identities = new Set(group.flatMap((h) => (h.identity ? [`${h.namespace}/${h.identity}`] : [])));
  if (namespaces.size < 2 && identities.size < 2) return [];
  return group.map((h) => ({
    anomaly: 'KeyReuse',
    namespace: h.namespace,
    kind: 'Secret',
    name: h.name,
    message: `Secret ${where(h)} holds public key SHA256 ${short(fp)}, which is also in ${othersText(group.filter((o) => o !== h))}`,
  }));
}

function copiedFindings(group: readonly KeyHolding[]): AnomalyFinding[] {
  const owner = group.find((h) => h.identity);
  if (!owner?.identity) return [];
  return group
    .filter((h) => !h.identity)
    .map((h) => ({
      anomaly: 'KeyCopied',
      namespace: h.namespace,
      kind: 'Secret',
      name: h.name,
      message: `Secret ${where(h)} holds the key of MachineIdentity ${owner.namespace}/${owner.identity} (Secret ${where(owner)}); the operator does not write it there`,
    }));
}

/** KeyReuse (the key in Secrets of more than one namespace, or under more than one identity) and KeyCopied. */
export function keyAnomalies(holdings: readonly KeyHolding[]): AnomalyFinding[] {
  const out = new Map<string, AnomalyFinding>();
  for (const [fp, group] of groupByKey(holdings)) {
    if (group.length < 2) continue;
    for (const f of [...reuseFindings(fp, group), ...copiedFindings(group)]) {
      const id = findingId(f);
      if (!out.has(id)) out.set(id, f);
    }
  }
  return [...out.values()];
}

// ---- reissue loops ----------------------------------------------------------------------------

export const HOUR_MS = 3_600_000;

/**
 * Issuance times of one identity with `at` added: only the last hour's, at most `keep` (threshold + 1
 * is all a decision needs), oldest first. Pure: returns a new list.
 */
export function addIssuance(times: readonly number[], at: number, keep: number): number[] {
  const recent = [...times.filter((t) => t > at - HOUR_MS), at].sort((a, b) => a - b);
  return recent.slice(Math.max(0, recent.length - Math.max(1, keep)));
}

/** ReissueLoop for each identity (`namespace/name`) issued more than `threshold` times within the hour before `now`. */
export function reissueLoops(
  issuances: ReadonlyMap<string, readonly number[]>,
  now: number,
  threshold: number,
): AnomalyFinding[] {
  const out: AnomalyFinding[] = [];
  for (const [key, times] of issuances) {
    const n = times.filter((t) => t > now - HOUR_MS && t <= now).length;
    if (n <= threshold) continue;
    const slash = key.indexOf('/');
    out.push({
      anomaly: 'ReissueLoop',
      namespace: key.slice(0, slash),
      kind: 'MachineIdentity',
      name: key.slice(slash + 1),
      message: `MachineIdentity ${key} was issued at least ${n} times in the last hour (more than ${threshold}): look for a renewal trigger that keeps firing (renew-requested-at, a spec that changes back and forth, renewBefore close to the duration)`,
    });
  }
  return out;
}

/** Each entry with the anomalies of its object (or, for ReissueLoop, of the identity that manages it). */
export function attachAnomalies(entries: readonly InventoryEntry[], findings: readonly AnomalyFinding[]): void {
  const byObject = new Map<string, EntryAnomaly[]>();
  for (const f of findings) {
    const k = `${f.kind}/${f.namespace}/${f.name}`;
    const a: EntryAnomaly = { anomaly: f.anomaly, message: f.message };
    if (f.muted) a.muted = true;
    if (f.muteReason) a.muteReason = f.muteReason;
    byObject.set(k, [...(byObject.get(k) ?? []), a]);
  }
  for (const e of entries) {
    const own = byObject.get(`${e.kind}/${e.namespace}/${e.name}`) ?? [];
    const ofIdentity = e.identity ? (byObject.get(`MachineIdentity/${e.namespace}/${e.identity}`) ?? []) : [];
    if (own.length + ofIdentity.length) e.anomalies = [...own, ...ofIdentity];
    else delete e.anomalies;
  }
}
