// What one reconcile's CA-continuity step came to (the record to write, a refusal, a change to
// announce, the rotation timings), and the record as the binding's status holds it.
import type { BindingModel } from '../../crds/index.ts';
import type { CaMaterial } from '../../issuers/ca-material.ts';
import { bundleContent, reissueNotBefore, type CaRecord, type Verdict } from './ca-continuity.ts';

/** The continuity record in the binding's status (parsed by the informer, field by field: one odd field loses only itself). */
export function caRecordOf(status: BindingModel['status']): CaRecord {
  return {
    fingerprint: status?.caFingerprintSHA256,
    trustBundle: status?.caTrustBundle,
    previous: [...(status?.previousCAs ?? [])],
    publishedAt: status?.caPublishedAt,
    regenerationHandled: status?.caRegenerationHandled,
  };
}

/** What the reconciler resolved about the binding's CA, as continuity needs it. */
export interface Resolved {
  backend?: string;
  material?: CaMaterial;
  fingerprint?: string;
  handles?: string;
  generatedReplacing?: string;
  distrusted: ReadonlySet<string>;
}

export class ContinuityResult {
  /** undefined: not a `ca` binding, no continuity state. */
  record?: CaRecord;
  refusal?: Verdict;
  changed?: { from: string; to: string; why: string };
  propagationDelayMs = 0;
  overlapMs = 0;

  /** What every trust bundle publishes; undefined when nothing is recorded. */
  bundlePem(): string | undefined {
    return this.record?.trustBundle ? bundleContent(this.record.trustBundle, this.record.previous) : undefined;
  }

  /** For the issuer cache: the bundle the ClusterTrustBundle publishes, and when identities may move to the current CA. */
  cacheFields(): { trustBundlePem?: string; reissueNotBefore?: number } {
    if (!this.record) return {};
    const at = reissueNotBefore(this.record.publishedAt, this.propagationDelayMs);
    return { trustBundlePem: this.bundlePem(), reissueNotBefore: at ? at.getTime() : Infinity };
  }
}
