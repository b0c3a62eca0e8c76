// Entry point: `node src/main.ts` (Node 24 runs TypeScript directly) or `node dist/main.js` in the image.
// KUBECONFIG when set, else in-cluster config. SIGTERM/SIGINT: drain, release the Lease, exit 0.
import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { kubeConfigFromEnv } from './runtime/kube.ts';
import { startOperator } from './operator.ts';

const boot = createLogger({ level: process.env.MIO_LOG_LEVEL });
let config;
try {
  config = loadConfig();
} catch (err) {
  boot.fatal({ err }, 'cannot start');
  process.exit(2);
}
const log = createLogger({ level: config.logLevel });
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception');
  process.exit(1);
});

const kc = kubeConfigFromEnv();
log.info(
  {
    server: kc.getCurrentCluster()?.server,
    namespace: config.namespace,
    leaderElection: config.leaderElection.enabled,
  },
  'starting',
);
const operator = await startOperator(config, kc, log);
const shutdown = (signal: string): void => {
  log.info({ signal }, 'shutting down');
  void operator.stop();
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
const code = await operator.done;
log.info({ code }, 'stopped');
log.flush?.();
process.exit(code);
