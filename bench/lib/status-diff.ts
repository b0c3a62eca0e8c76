// Which MachineIdentity statuses a phase changed, and how: every status listed before and after
// (paginated), the first few that differ logged field by field. For finding a restart's writes.
import * as k8s from '@kubernetes/client-node';

type Statuses = Map<string, Record<string, unknown>>;

export async function listStatuses(kc: k8s.KubeConfig): Promise<Statuses> {
  const co = kc.makeApiClient(k8s.CustomObjectsApi);
  const out: Statuses = new Map();
  let cont: string | undefined;
  do {
    const page = (await co.listClusterCustomObject({
      group: 'machineidentity.io',
      version: 'v1alpha1',
      plural: 'machineidentities',
      limit: 500,
      ...(cont ? { _continue: cont } : {}),
    })) as {
      items: { metadata: { namespace: string; name: string }; status?: Record<string, unknown> }[];
      metadata?: { continue?: string };
    };
    for (const i of page.items) out.set(`${i.metadata.namespace}/${i.metadata.name}`, i.status ?? {});
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return out;
}

/** Lines "key: field before → after" for the first `max` identities whose status changed, and the count. */
export function statusChanges(before: Statuses, after: Statuses, max = 3): { changed: number; lines: string[] } {
  const lines: string[] = [];
  let changed = 0;
  for (const [k, a] of after) {
    const b = before.get(k) ?? {};
    const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
      (f) => JSON.stringify(a[f]) !== JSON.stringify(b[f]),
    );
    if (!fields.length) continue;
    if (changed++ < max)
      for (const f of fields) lines.push(`${k}: ${f} ${JSON.stringify(b[f])} → ${JSON.stringify(a[f])}`);
  }
  return { changed, lines };
}
