// Muting anomalies per namespace. Only the Namespace's own annotations count: a Namespace is a
// cluster-admin object, while a tenant can edit the labels and annotations of its Secrets, Services and
// MachineIdentities (and would mute what flags its own copy of a key). Cluster-scoped objects are never muted.
import { AnomalyReason } from '../crds/reasons.ts';
import { MUTE_ANOMALIES, MUTE_REASON } from './types.ts';
import type { AnomalyFinding } from './anomaly-finding.ts';

export interface Muting {
  muted: boolean;
  reason?: string;
}

const MAX_REASON = 256;
const NAMES: ReadonlySet<string> = new Set(Object.keys(AnomalyReason));

/** Whether the Namespace's annotations mute `anomaly` (a comma list of AnomalyReason names, or `*`), and why. */
export function muting(annotations: Readonly<Record<string, string>> | undefined, anomaly: AnomalyReason): Muting {
  const list = annotations?.[MUTE_ANOMALIES];
  if (!list) return { muted: false };
  const names = list.split(',').map((s) => s.trim());
  const muted = names.includes('*') || (NAMES.has(anomaly) && names.includes(anomaly));
  if (!muted) return { muted: false };
  const reason = annotations[MUTE_REASON]?.trim().slice(0, MAX_REASON);
  return reason ? { muted, reason } : { muted };
}

/** The findings with muted/muteReason set from their namespace's annotations (`annotationsOf` looks the Namespace up). */
export function applyMuting(
  findings: readonly AnomalyFinding[],
  annotationsOf: (namespace: string) => Readonly<Record<string, string>> | undefined,
): AnomalyFinding[] {
  return findings.map((f) => {
    const base: AnomalyFinding = {
      anomaly: f.anomaly,
      namespace: f.namespace,
      kind: f.kind,
      name: f.name,
      message: f.message,
    };
    const m = f.namespace ? muting(annotationsOf(f.namespace), f.anomaly) : { muted: false };
    if (!m.muted) return base;
    return { ...base, muted: true, ...(m.reason ? { muteReason: m.reason } : {}) };
  });
}
