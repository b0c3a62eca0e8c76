// What resolving a binding's CA came to (Ready or why not, plus what status and trust bundles show),
// and the pure decisions taken from it: the trust bundle to publish and when to look again.
import type { Backend } from '../../crds/certificate-authority-binding.ts';
import type { CaMaterial } from '../../issuers/ca-material.ts';
import type { Issuer } from '../../issuers/types.ts';
import type { LabelSelector } from '../../policy/label-selector.ts';
import type { ConditionInput } from '../status/conditions.ts';
import type { Desired } from './trust-bundle-configmaps.ts';

/** Re-check at least this often (CA expiry, foreign trust-bundle ConfigMaps going away). */
export const RESYNC_MS = 6 * 3600_000;
export const CONFLICT_RESYNC_MS = 5 * 60_000;

export interface Outcome {
  ready: ConditionInput;
  backend?: Backend;
  fingerprint?: string;
  notAfter?: Date;
  issuer?: Issuer;
  material?: CaMaterial;
  /** Not a verdict: wait for the cache (e.g. a Secret we just lost a create race for). */
  waitMs?: number;
  requeueAt?: Date;
  /** The regenerate-ca-requested-at value this reconcile acted on. */
  handles?: string;
  /** replaces-ca of a CA Secret we generated for this binding. */
  generatedReplacing?: string;
}

export const notReady = (reason: string, message: string, extra: Partial<Outcome> = {}): Outcome => ({
  ready: { type: 'Ready', status: 'False', reason, message },
  ...extra,
});

/** We lost a race for the CA Secret: the informer will deliver the winner shortly. */
export const waitForCache = (): Outcome => ({
  ready: { type: 'Ready', status: 'False', reason: '', message: '' },
  waitMs: 1000,
});

/** The part of a binding's spec the trust-bundle ConfigMaps follow. */
interface TrustBundleSpec {
  trustBundle?: { configMapName: string; key: string } | undefined;
  namespaceSelector?: LabelSelector | undefined;
}

/**
 * The recorded CA and the previous ones still in their overlap window (`bundlePem`, undefined when
 * nothing is recorded yet: leave what is published). No trustBundle, or selfSigned: remove ours.
 */
export function desiredBundle(
  spec: TrustBundleSpec | undefined,
  o: Outcome,
  bundlePem: () => string | undefined,
): Desired {
  if (!spec?.trustBundle || o.backend === 'selfSigned') return { kind: 'remove' };
  const pem = bundlePem();
  if (pem === undefined) return { kind: 'keep' };
  return {
    kind: 'publish',
    configMapName: spec.trustBundle.configMapName,
    key: spec.trustBundle.key,
    bundlePem: pem,
    namespaceSelector: spec.namespaceSelector,
  };
}

/** Wake up just after the CA expires (or becomes valid), and at least every RESYNC_MS. */
export function requeueDelay(now: Date, o: Outcome, conflicts: number): number {
  let delay = conflicts > 0 ? CONFLICT_RESYNC_MS : RESYNC_MS;
  const at = o.requeueAt ?? (o.ready.status === 'True' ? o.notAfter : undefined);
  if (at) delay = Math.min(delay, Math.max(1000, at.getTime() - now.getTime() + 1000));
  return delay;
}
