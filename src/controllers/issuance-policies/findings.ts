// What the policies last said about each managed identity (its request and its current certificate),
// kept by the issuance controller. The policy status controller and the violations metric read it.
import { Gauge, type Registry } from 'prom-client';
import type { Violation } from '../../policy/types.ts';

export interface IdentityFindings {
  namespace: string;
  name: string;
  matched: readonly string[];
  violations: readonly Violation[];
}
/** A discovered (not managed) certificate's holder and what it violates, from the inventory. */
export interface DiscoveredFindings {
  namespace: string;
  kind: string;
  name: string;
  violations: readonly Violation[];
}

export class PolicyFindings {
  private readonly byIdentity = new Map<string, IdentityFindings>();
  private discovered: readonly DiscoveredFindings[] = [];
  private readonly listeners: ((policies: ReadonlySet<string>) => void)[] = [];

  constructor(registry: Registry) {
    const byIdentity = this.byIdentity;
    const discovered = (): readonly DiscoveredFindings[] => this.discovered;
    new Gauge({
      name: 'machine_identity_policy_violations',
      help: 'Current IssuancePolicy violations, by policy, rule and object',
      labelNames: ['policy', 'rule', 'namespace', 'kind', 'name', 'enforcement'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const f of byIdentity.values()) {
          const counts = new Map<string, { v: Violation; n: number }>();
          for (const v of f.violations) {
            const k = `${v.policy}\0${v.rule}\0${v.enforcement}`;
            const c = counts.get(k);
            if (c) c.n++;
            else counts.set(k, { v, n: 1 });
          }
          for (const { v, n } of counts.values()) {
            this.set(
              {
                policy: v.policy,
                rule: v.rule,
                namespace: f.namespace,
                kind: 'MachineIdentity',
                name: f.name,
                enforcement: v.enforcement,
              },
              n,
            );
          }
        }
        for (const d of discovered()) {
          for (const v of d.violations)
            this.inc({
              policy: v.policy,
              rule: v.rule,
              namespace: d.namespace,
              kind: d.kind,
              name: d.name,
              enforcement: v.enforcement,
            });
        }
      },
    });
  }

  /** Subscribers hear which policies' counts may have changed. */
  onChange(fn: (policies: ReadonlySet<string>) => void): this {
    this.listeners.push(fn);
    return this;
  }

  set(key: string, f: IdentityFindings): void {
    const old = this.byIdentity.get(key);
    if (old && sameFindings(old, f)) return;
    this.byIdentity.set(key, f);
    this.notify(old, f);
  }

  delete(key: string): void {
    const old = this.byIdentity.get(key);
    if (!old) return;
    this.byIdentity.delete(key);
    this.notify(old, undefined);
  }

  /** Replaces the inventory's findings on discovered certificates (one entry per certificate). */
  setDiscovered(list: readonly DiscoveredFindings[]): void {
    const names = new Set<string>();
    for (const d of [...this.discovered, ...list]) for (const v of d.violations) names.add(v.policy);
    this.discovered = list;
    if (names.size) for (const l of this.listeners) l(names);
  }

  /** Matched identities, and identities plus discovered certificates with at least one violation, per policy. */
  counts(policy: string): { matched: number; violating: number } {
    let matched = 0,
      violating = 0;
    for (const f of this.byIdentity.values()) {
      if (f.matched.includes(policy)) matched++;
      if (f.violations.some((v) => v.policy === policy)) violating++;
    }
    for (const d of this.discovered) if (d.violations.some((v) => v.policy === policy)) violating++;
    return { matched, violating };
  }

  private notify(a: IdentityFindings | undefined, b: IdentityFindings | undefined): void {
    const names = new Set<string>([...(a?.matched ?? []), ...(b?.matched ?? [])]);
    for (const v of [...(a?.violations ?? []), ...(b?.violations ?? [])]) names.add(v.policy);
    if (names.size === 0) return;
    for (const l of this.listeners) l(names);
  }
}

function sameFindings(a: IdentityFindings, b: IdentityFindings): boolean {
  if (a.matched.length !== b.matched.length || a.violations.length !== b.violations.length) return false;
  if (a.matched.some((m, i) => m !== b.matched[i])) return false;
  return a.violations.every((v, i) => {
    const w = b.violations[i];
    return v.policy === w?.policy && v.rule === w.rule && v.message === w.message;
  });
}
