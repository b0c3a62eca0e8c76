// The current anomalies, from two feeders: the inventory controller (one list per rebuild) and the
// validation controller (one list per serve target). It publishes machine_identity_anomalies (muted
// findings are listed, not counted) and announces each finding once with a Warning Event whose reason
// is the anomaly's name; a finding that goes away and comes back is announced again. Bounded: at most
// `maxFindings` are kept, the rest counted in machine_identity_anomalies_dropped; Events are paced by a
// token bucket of their own (a new finding waits for a token, it is not lost), so a flood of findings on
// Secrets does not use up the Event budget events.ts keeps per kind (PolicyViolation shares it).
import { Gauge, type Registry } from 'prom-client';
import { recordEvent } from '../controllers/events.ts';
import type { OperatorContext } from '../controllers/context.ts';
import { applyMuting } from './muting.ts';
import { findingId, type AnomalyFinding } from './anomaly-finding.ts';

export interface AnomalyStoreOptions {
  registry: Registry;
  /** Records the Warning Event of a new, unmuted finding (best effort; must not throw). */
  announce(f: AnomalyFinding): Promise<void>;
  /** The annotations of a Namespace (muting is read from them only), undefined when unknown. */
  namespaceAnnotations(namespace: string): Readonly<Record<string, string>> | undefined;
  maxFindings?: number;
  /** Events at once and per second after that (default 50 and 2): a flood of findings must not use up the Event budget of their kind. */
  eventBurst?: number;
  eventsPerSecond?: number;
  now?: () => number;
}

const INVENTORY = 'inventory';
const LABEL_MAX = 253;
const cut = (s: string): string => (s.length > LABEL_MAX ? s.slice(0, LABEL_MAX) : s);
const DEFAULT_MAX_FINDINGS = 10_000;
const DEFAULT_EVENT_BURST = 50;
const DEFAULT_EVENTS_PER_SECOND = 2;

export class AnomalyStore {
  /** Source ('inventory' or 'served:<target key>') → its findings, deduplicated, muting applied. */
  private readonly sources = new Map<string, AnomalyFinding[]>();
  /** Finding id → how many sources hold it. */
  private readonly counts = new Map<string, number>();
  private readonly announced = new Set<string>();
  /** New unmuted findings waiting for an Event token, oldest first. */
  private readonly pending = new Map<string, AnomalyFinding>();
  private tokens: number;
  private refilledAt: number;
  private readonly dropped = new Map<string, number>();
  private total = 0;
  private readonly max: number;

  private readonly o: AnomalyStoreOptions;

  constructor(o: AnomalyStoreOptions) {
    this.o = o;
    this.max = o.maxFindings ?? DEFAULT_MAX_FINDINGS;
    this.tokens = o.eventBurst ?? DEFAULT_EVENT_BURST;
    this.refilledAt = this.now();
    const list = (): AnomalyFinding[] => this.list();
    const dropped = (): number => [...this.dropped.values()].reduce((a, b) => a + b, 0);
    new Gauge({
      name: 'machine_identity_anomalies',
      help: 'Anomalies found (1 per anomaly and object; muted ones are not counted): key reuse, copied keys, unknown certificates or CAs, name mismatches, weak TLS, reissue loops',
      labelNames: ['anomaly', 'namespace', 'kind', 'name'] as const,
      registers: [o.registry],
      collect() {
        this.reset();
        for (const f of list())
          if (!f.muted) this.set({ anomaly: f.anomaly, namespace: f.namespace, kind: f.kind, name: cut(f.name) }, 1);
      },
    });
    new Gauge({
      name: 'machine_identity_anomalies_dropped',
      help: 'Anomalies found but not kept: over the store limit of findings',
      registers: [o.registry],
      collect() {
        this.set(dropped());
      },
    });
  }

  /** The inventory's findings (KeyReuse, KeyCopied, ReissueLoop), replacing the previous ones. */
  setInventory(findings: readonly AnomalyFinding[]): Promise<void> {
    return this.set(INVENTORY, findings);
  }

  /** What the last probes of one serve target showed, replacing the previous ones of that target. */
  setServed(targetKey: string, findings: readonly AnomalyFinding[]): Promise<void> {
    return this.set(`served:${targetKey}`, findings);
  }

  /** The target is gone: its findings too. */
  dropServed(targetKey: string): void {
    this.remove(`served:${targetKey}`);
  }

  /** Every current finding (muted ones too), one per anomaly and object. */
  list(): AnomalyFinding[] {
    const seen = new Set<string>();
    const out: AnomalyFinding[] = [];
    for (const fs of this.sources.values())
      for (const f of fs) {
        const id = findingId(f);
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(f);
      }
    return out;
  }

  private remove(source: string): void {
    for (const f of this.sources.get(source) ?? []) {
      const id = findingId(f);
      const n = (this.counts.get(id) ?? 1) - 1;
      if (n > 0) this.counts.set(id, n);
      else {
        this.counts.delete(id);
        this.announced.delete(id); // gone: announced again when it comes back
        this.pending.delete(id);
      }
    }
    this.total -= this.sources.get(source)?.length ?? 0;
    this.sources.delete(source);
    this.dropped.delete(source);
  }

  /** One per id, muting applied. */
  private unique(findings: readonly AnomalyFinding[]): Map<string, AnomalyFinding> {
    const unique = new Map<string, AnomalyFinding>();
    for (const f of applyMuting(findings, (ns) => this.o.namespaceAnnotations(ns)))
      if (!unique.has(findingId(f))) unique.set(findingId(f), f);
    return unique;
  }

  private async set(source: string, findings: readonly AnomalyFinding[]): Promise<void> {
    const unique = this.unique(findings);
    // the new list is counted before the old one is forgotten: a finding held on both sides stays announced
    const room = Math.max(0, this.max - (this.total - (this.sources.get(source)?.length ?? 0)));
    const kept = [...unique.values()].slice(0, room);
    for (const f of kept) {
      const id = findingId(f);
      this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
      if (f.muted) this.pending.delete(id);
      else if (!this.announced.has(id) && !this.pending.has(id)) this.pending.set(id, f);
    }
    this.remove(source);
    this.sources.set(source, kept);
    this.total += kept.length;
    if (unique.size > kept.length) this.dropped.set(source, unique.size - kept.length);
    await this.drain();
  }

  /** Announces pending findings while Event tokens last; the rest wait for the next feed. */
  private async drain(): Promise<void> {
    for (const [id, f] of this.pending) {
      if (!this.takeToken()) return;
      this.pending.delete(id);
      this.announced.add(id);
      await this.o.announce(f);
    }
  }

  private takeToken(): boolean {
    const now = this.now();
    const burst = this.o.eventBurst ?? DEFAULT_EVENT_BURST;
    this.tokens = Math.min(
      burst,
      this.tokens + ((now - this.refilledAt) / 1000) * (this.o.eventsPerSecond ?? DEFAULT_EVENTS_PER_SECOND),
    );
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }
}

/** apiVersion of the kinds findings are about (the Event's involvedObject). */
const API_VERSION: Record<string, string> = {
  Secret: 'v1',
  ConfigMap: 'v1',
  Service: 'v1',
  MachineIdentity: 'machineidentity.io/v1alpha1',
  Ingress: 'networking.k8s.io/v1',
  Gateway: 'gateway.networking.k8s.io/v1',
  ValidatingWebhookConfiguration: 'admissionregistration.k8s.io/v1',
  MutatingWebhookConfiguration: 'admissionregistration.k8s.io/v1',
  APIService: 'apiregistration.k8s.io/v1',
};

/** announce() for the operator: a Warning Event on the involved object, reason = the anomaly's name. */
export function eventAnnouncer(ctx: OperatorContext): (f: AnomalyFinding) => Promise<void> {
  return (f) =>
    recordEvent(
      ctx,
      {
        apiVersion: API_VERSION[f.kind] ?? 'v1',
        kind: f.kind,
        name: f.name,
        ...(f.namespace ? { namespace: f.namespace } : {}),
      },
      'Warning',
      f.anomaly,
      f.message,
    );
}
