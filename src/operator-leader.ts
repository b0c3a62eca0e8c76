// Leader election for the operator's controllers: informers and the webhook run on every replica (a
// standby takes over with a warm cache), controllers only on the Lease holder.
import { LeaderElector } from './runtime/leader-election.ts';
import type { OperatorContext } from './controllers/context.ts';

/** With leader election, controllers start on the leader only; a replica that lost its lease exits (client-go practice). */
export function elect(ctx: OperatorContext, startControllers: () => void, lost: () => void): LeaderElector | undefined {
  const { config, kc, log, registry } = ctx;
  if (!config.leaderElection.enabled) {
    startControllers();
    return undefined;
  }
  const le = config.leaderElection;
  const elector = new LeaderElector({
    kc,
    namespace: config.namespace,
    name: le.leaseName,
    identity: undefined,
    leaseDurationMs: le.leaseDurationMs,
    renewDeadlineMs: le.renewDeadlineMs,
    retryPeriodMs: le.retryPeriodMs,
    logger: log,
    registry,
    onStartedLeading: () => {
      log.info('became leader; starting controllers');
      startControllers();
    },
    // so that no two leaders ever act
    onStoppedLeading: lost,
  });
  void elector.run();
  return elector;
}
