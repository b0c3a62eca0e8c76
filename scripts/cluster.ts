// npm run cluster:up [-- --node=real] | cluster:down: a full local control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok with one Ready fake Node) in the background. With
// --node=real the node is a real one instead (containerd 2, runc, CNI bridge, kubelet, kube-proxy: see
// docs/real-node.md); cluster:down stops it and removes every trace it left on the host.
import { clusterUp, clusterDown } from './lib/local-cluster.ts';
import { parseNodeFlag } from './lib/node-mode.ts';

const log = (l: string): void => void process.stdout.write(`${l}\n`);
const cmd = process.argv[2];
try {
  if (cmd === 'up') await clusterUp(log, parseNodeFlag(process.argv.slice(3)));
  else if (cmd === 'down') await clusterDown(log);
  else {
    log('usage: node scripts/cluster.ts up [--node=kwok|real] | down');
    process.exit(2);
  }
} catch (e) {
  process.stderr.write(`cluster ${cmd}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
process.exit(0);
