// Which nodes the local cluster runs (`--node=kwok`, the default, or `--node=real`) and what cluster:up does
// when a cluster is already running: pure decisions, so the commands' behaviour is table-tested.

export type NodeMode = 'kwok' | 'real';
const MODES: readonly NodeMode[] = ['kwok', 'real'];

/** The `--node=<mode>` (or `--node <mode>`) argument; kwok when absent. Throws on anything else. */
export function parseNodeFlag(argv: readonly string[]): NodeMode {
  let mode: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a.startsWith('--node=')) mode = a.slice('--node='.length);
    else if (a === '--node') mode = argv[++i] ?? '';
    else throw new Error(`unknown argument ${a} (expected --node=kwok or --node=real)`);
  }
  if (mode === undefined) return 'kwok';
  if ((MODES as readonly string[]).includes(mode)) return mode as NodeMode;
  throw new Error(`--node must be kwok or real, not "${mode}"`);
}

export type UpAction = { action: 'reuse' } | { action: 'start' } | { action: 'conflict'; message: string };

/**
 * cluster:up with `want` when the recorded cluster (if any) runs `running` and answers (`up`): a running
 * cluster of the same kind is reused; one of the other kind is never torn down behind the user's back.
 */
export function upAction(running: NodeMode | undefined, up: boolean, want: NodeMode): UpAction {
  if (!up || running === undefined) return { action: 'start' };
  if (running === want) return { action: 'reuse' };
  return {
    action: 'conflict',
    message: `a local cluster with ${running === 'real' ? 'a real node' : 'kwok nodes'} is running; \`npm run cluster:down\` first, then start it with --node=${want}`,
  };
}

/**
 * May cluster:down tear down the recorded real node? The bridge is the host-wide lock: when a bridge of that
 * name exists with another ifindex than recorded, another real node holds the host now (its kubepods
 * cgroups and chains look like ours), and nothing may be touched. No bridge: ours is gone, the rest is ours.
 */
export function mayTearDownNode(recordedIndex: number, currentIndex: number | undefined): boolean {
  return currentIndex === undefined || currentIndex === recordedIndex;
}
