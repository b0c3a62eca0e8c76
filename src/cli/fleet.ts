// `kubectl mi inventory --context a --context b` / `--all-contexts`: one inventory across clusters. Each
// cluster is read as the single-cluster command reads it (same code, same credentials), at most a few at a
// time, each with its own deadline; one cluster failing is reported and the others are still listed.
// The pure parts (which contexts, merging, exit code) are apart from the I/O so they have table tests.
import type { InventoryRow } from './inventory-format.ts';

/** Exit code when some clusters were read and some failed: the output is partial. */
export const EXIT_PARTIAL = 4;

export interface ClusterOutcome {
  /** The kubeconfig context name: the value of the `cluster` column. */
  cluster: string;
  rows?: readonly InventoryRow[];
  /** Why the cluster could not be read (no rows then). */
  error?: string;
  durationMs: number;
}

export interface ClusterSummary {
  name: string;
  status: 'ok' | 'failed';
  certificates: number;
  durationMs: number;
  error?: string;
}

export interface FleetResult {
  rows: InventoryRow[];
  clusters: ClusterSummary[];
}

/**
 * The contexts to read: the asked ones in the order asked (duplicates once), or every context of the
 * kubeconfig with `all`. Unknown names are returned apart so the command can refuse them before any request.
 */
export function selectContexts(
  available: readonly string[],
  asked: readonly string[],
  all: boolean,
): { contexts: string[]; unknown: string[] } {
  if (all) return { contexts: [...new Set(available)], unknown: [] };
  const known = new Set(available);
  const wanted = [...new Set(asked)];
  return { contexts: wanted.filter((c) => known.has(c)), unknown: wanted.filter((c) => !known.has(c)) };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in the order of `items`. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return out;
}

/** Every cluster's rows with its `cluster` set, soonest to expire first (then by cluster), and one summary per cluster. */
export function mergeFleet(outcomes: readonly ClusterOutcome[]): FleetResult {
  const rows: InventoryRow[] = [];
  const clusters: ClusterSummary[] = [];
  for (const o of outcomes) {
    const failed = o.error !== undefined || o.rows === undefined;
    for (const r of o.rows ?? []) rows.push({ ...r, cluster: o.cluster });
    clusters.push({
      name: o.cluster,
      status: failed ? 'failed' : 'ok',
      certificates: o.rows?.length ?? 0,
      durationMs: Math.round(o.durationMs),
      ...(failed ? { error: o.error ?? 'no result' } : {}),
    });
  }
  rows.sort(
    (a, b) => a.expiresInSeconds - b.expiresInSeconds || (a.cluster ?? '').localeCompare(b.cluster ?? '', 'en'),
  );
  return { rows, clusters };
}

/** 0 every cluster read; EXIT_PARTIAL some failed (the others are listed); 1 none could be read. */
export function fleetExitCode(clusters: readonly ClusterSummary[]): number {
  const failed = clusters.filter((c) => c.status === 'failed').length;
  if (failed === 0) return 0;
  return failed === clusters.length ? 1 : EXIT_PARTIAL;
}

/** Reads one cluster, turning any failure or a passed deadline into an outcome instead of an exception. */
export async function readCluster(
  cluster: string,
  timeoutMs: number,
  read: (signal: AbortSignal) => Promise<readonly InventoryRow[]>,
  now: () => number = performance.now.bind(performance),
): Promise<ClusterOutcome> {
  const t0 = now();
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new Error(`no answer within ${Math.round(timeoutMs / 1000)}s`));
    }, timeoutMs);
  });
  try {
    const rows = await Promise.race([read(ac.signal), deadline]);
    return { cluster, rows, durationMs: now() - t0 };
  } catch (e) {
    return { cluster, error: errorText(e), durationMs: now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

/** One line for a failure: the message (client-node's ApiException carries the status in it). */
function errorText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return `${m}${cause}`.replace(/\s+/g, ' ').slice(0, 300);
}
