// One anomaly as every part reports it: the inventory (KeyReuse, KeyCopied, ReissueLoop), the
// validation controller (what an endpoint serves), the store that turns them into Events and the
// machine_identity_anomalies gauge, and `kubectl mi inventory`. Messages name objects, never key material.
import type { AnomalyReason } from '../crds/reasons.ts';

export interface AnomalyFinding {
  anomaly: AnomalyReason;
  /** The involved object ('' for a cluster-scoped one). */
  namespace: string;
  kind: string;
  name: string;
  message: string;
  /** Set by muting.ts from the Namespace's annotations: still listed, but no Event and no metric. */
  muted?: boolean;
  muteReason?: string;
}

/** What an inventory entry shows of the anomalies of its object. */
export type EntryAnomaly = Pick<AnomalyFinding, 'anomaly' | 'message' | 'muted' | 'muteReason'>;

/** One finding per anomaly and object: the gauge's labels, and what is announced once. */
export function findingId(f: Pick<AnomalyFinding, 'anomaly' | 'namespace' | 'kind' | 'name'>): string {
  return `${f.anomaly}\0${f.namespace}\0${f.kind}\0${f.name}`;
}
