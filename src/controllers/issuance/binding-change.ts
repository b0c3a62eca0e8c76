// Which binding updates the issuance controller must act on. An update wakes every identity that names
// the binding, so it must not fire for the binding-usage controller's own counters (status.identities,
// outdatedIdentities, observedGeneration): during a burst of 10,000 new identities those change with
// every few creates, and each change re-queued all 10,000 (bench fairness: 57 reconciles per identity).
import type { BindingModel } from '../../crds/binding-model.ts';

const USAGE_FIELDS = new Set(['identities', 'outdatedIdentities', 'observedGeneration']);

function statusBesidesUsage(b: BindingModel): string {
  const status = (b.status ?? {}) as Record<string, unknown>;
  return JSON.stringify(Object.entries(status).filter(([k]) => !USAGE_FIELDS.has(k)));
}

/** False when only the usage counters changed (nothing the issuance of an identity reads). */
export function bindingChangeMatters(before: BindingModel, after: BindingModel): boolean {
  return (
    before.metadata.generation !== after.metadata.generation ||
    before.metadata.deletionTimestamp !== after.metadata.deletionTimestamp ||
    JSON.stringify(before.metadata.labels ?? {}) !== JSON.stringify(after.metadata.labels ?? {}) ||
    JSON.stringify(before.metadata.annotations ?? {}) !== JSON.stringify(after.metadata.annotations ?? {}) ||
    statusBesidesUsage(before) !== statusBesidesUsage(after)
  );
}
