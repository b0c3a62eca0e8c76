// What one reconcile of one identity carries from step to step: the identity, its Event and status
// writers, and (once the prerequisites hold) the spec to issue from, its authority and its Secret.
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { IssuableSpec, MachineIdentityModel, ResolvedMachineIdentitySpec } from '../../crds/index.ts';
import type { AuthorityEntry } from '../../issuers/cache.ts';
import type { IdentityDecision } from '../../policy/decide.ts';
import type { ConditionInput } from '../status/conditions.ts';
import type { OperatorContext } from '../context.ts';
import { recordEvent } from '../events.ts';
import type { SecretView } from './inspect.ts';
import type { NextKeyIndex } from './next-key.ts';
import { writeStatus, type StatusChange } from './status.ts';
import type { RecentlyWritten } from './written.ts';

/** Everything one reconcile of one identity needs. */
export interface Run {
  ctx: OperatorContext;
  nextKeys: NextKeyIndex;
  written: RecentlyWritten;
  mi: MachineIdentityModel;
  log: Logger;
  event(type: 'Normal' | 'Warning', reason: string, message: string): void;
  /** The PolicyCompliant condition once known; every status write of the run carries it. */
  policy?: ConditionInput;
  write(change: StatusChange): Promise<boolean>;
}

/** The prerequisites hold: what is issued, from which authority, and the Secret as it is (ours or absent). */
export interface Ready {
  /** The spec with policy-resolved defaults (what is issued); `raw` is the spec as written. */
  spec: IssuableSpec;
  raw: ResolvedMachineIdentitySpec;
  decision: IdentityDecision;
  authority: string;
  entry: AuthorityEntry;
  secret?: k8s.V1Secret;
  view?: SecretView;
}

export function newRun(
  ctx: OperatorContext,
  state: Pick<Run, 'nextKeys' | 'written'>,
  mi: MachineIdentityModel,
  log: Logger,
): Run {
  const { name, namespace, uid } = mi.metadata;
  const ref = { apiVersion: 'machineidentity.io/v1alpha1', kind: 'MachineIdentity', name, namespace, uid };
  const run: Run = {
    ctx,
    ...state,
    mi,
    log,
    event: (type, reason, message) => void recordEvent(ctx, ref, type, reason, message),
    write: (change) => writeStatus(ctx, mi, run.policy && !change.policy ? { ...change, policy: run.policy } : change),
  };
  return run;
}
