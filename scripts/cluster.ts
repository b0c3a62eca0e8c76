// npm run cluster:up | cluster:down: a full local control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok with one Ready fake Node) in the background.
import { clusterUp, clusterDown } from './lib/local-cluster.ts';

const log = (l: string): void => void process.stdout.write(`${l}\n`);
const cmd = process.argv[2];
if (cmd === 'up') await clusterUp(log);
else if (cmd === 'down') await clusterDown(log);
else {
  log('usage: node scripts/cluster.ts up|down');
  process.exit(2);
}
process.exit(0);
