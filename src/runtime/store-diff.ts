// What a relist changed: the events a watch would have delivered between the old store and the
// new one. Pure.
import type * as k8s from '@kubernetes/client-node';

export type StoreChange<T> = { type: 'add'; obj: T } | { type: 'update'; prev: T; obj: T } | { type: 'delete'; obj: T };

/** Adds and updates (resourceVersion changed) in the new store's order, then deletes in the old store's order. */
export function storeChanges<T extends k8s.KubernetesObject>(
  old: ReadonlyMap<string, T>,
  fresh: ReadonlyMap<string, T>,
): StoreChange<T>[] {
  const out: StoreChange<T>[] = [];
  for (const [k, obj] of fresh) {
    const prev = old.get(k);
    if (!prev) out.push({ type: 'add', obj });
    else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion) out.push({ type: 'update', prev, obj });
  }
  for (const [k, obj] of old) if (!fresh.has(k)) out.push({ type: 'delete', obj });
  return out;
}
