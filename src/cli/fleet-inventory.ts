// The I/O of the fleet inventory: one KubeConfig per context (its own credentials and connection pool),
// read through the single-cluster path in parallel (bounded), merged and rendered. Decisions are in ./fleet.ts.
import type * as k8s from '@kubernetes/client-node';
import { fleetExitCode, mapBounded, mergeFleet, readCluster, selectContexts, type FleetResult } from './fleet.ts';
import { formatCsv, formatTable, type InventoryRow } from './inventory-format.ts';

export interface FleetRequest {
  /** A fresh KubeConfig from the user's kubeconfig (called once per context: each gets its own). */
  kubeConfig(): k8s.KubeConfig;
  contexts: readonly string[];
  allContexts: boolean;
  parallel: number;
  timeoutMs: number;
  output: string;
  read(kc: k8s.KubeConfig, warn: (m: string) => void, signal: AbortSignal): Promise<InventoryRow[]>;
}

export interface FleetOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** Set when the request names contexts the kubeconfig does not have (nothing was read). */
  usageError?: string;
}

export function renderFleet(output: string, r: FleetResult): string {
  if (output === 'json') return `${JSON.stringify({ clusters: r.clusters, certificates: r.rows }, null, 2)}\n`;
  if (output === 'csv') return formatCsv(r.rows, { cluster: true });
  return formatTable(r.rows, { cluster: true, wide: output === 'wide' });
}

export async function fleetInventory(req: FleetRequest): Promise<FleetOutput> {
  const available = req
    .kubeConfig()
    .getContexts()
    .map((c) => c.name);
  const { contexts, unknown } = selectContexts(available, req.contexts, req.allContexts);
  if (unknown.length)
    return {
      stdout: '',
      stderr: '',
      exitCode: 2,
      usageError: `no context ${unknown.map((c) => JSON.stringify(c)).join(', ')} in the kubeconfig (it has ${available.join(', ') || 'none'})`,
    };
  if (!contexts.length) return { stdout: '', stderr: '', exitCode: 2, usageError: 'the kubeconfig has no contexts' };
  const notes: string[] = [];
  const outcomes = await mapBounded(contexts, req.parallel, (context) =>
    readCluster(context, req.timeoutMs, (signal) => {
      const kc = req.kubeConfig();
      kc.setCurrentContext(context);
      return req.read(kc, (m) => notes.push(`warning: cluster ${context}: ${m}`), signal);
    }),
  );
  const merged = mergeFleet(outcomes);
  for (const c of merged.clusters)
    if (c.status === 'failed') notes.push(`error: cluster ${c.name} could not be read: ${c.error ?? ''}`);
  return {
    stdout: renderFleet(req.output, merged),
    stderr: notes.map((n) => `${n}\n`).join(''),
    exitCode: fleetExitCode(merged.clusters),
  };
}
