// The controller runtime: informers, work queues, the reconcile loop, leader election, API helpers
// and the ops HTTP server.
export { Informer, type InformerOptions } from './informer.ts';
export { WorkQueue, MAX_TIMER_MS, DEFAULT_MAX_DELAY_MS, type WorkQueueOptions } from './workqueue.ts';
export { RateLimiter, backoffDelay, sleep, type BackoffOptions } from './backoff.ts';
export {
  Controller,
  TerminalError,
  keyOf,
  type ControllerOptions,
  type Reconcile,
  type ReconcileContext,
  type ReconcileResult,
} from './reconcile-loop.ts';
export { LeaderElector, defaultIdentity, type LeaderElectorOptions } from './leader-election.ts';
export {
  toKubeError,
  isNotFound,
  isConflict,
  isAlreadyExists,
  isGone,
  applyNamespaced,
  applyStatus,
  mergePatch,
  getJson,
  kubeConfigFromEnv,
  SSA,
  MERGE,
  type KubeError,
  type GVR,
} from './kube.ts';
export { startOpsServer, type OpsServer, type OpsServerOptions } from './ops-server.ts';
