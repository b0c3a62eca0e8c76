// Summarises a V8 .heapsnapshot (docs/memory.md): self size by constructor, and the largest retainers
// by retained size (dominator tree, weak edges ignored, as DevTools does), each with its dominator chain.
//   node_modules/.bin/node --max-old-space-size=4096 bench/lib/heap-summary.js <file.heapsnapshot> [top=25]
// Plain JavaScript like heap-probe.js: a developer tool, not part of the operator.
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: heap-summary.js <file.heapsnapshot> [top]\n');
  process.exit(2);
}
const top = Number(topArg ?? 25);
// MIO_HEAP_MIN_MB: the smallest retained size listed (default 1 MB)
const MIN = Number(process.env.MIO_HEAP_MIN_MB ?? 1) * 1048576;
const snap = JSON.parse(readFileSync(file, 'utf8'));
const { meta } = snap.snapshot;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const nType = meta.node_fields.indexOf('type');
const nName = meta.node_fields.indexOf('name');
const nSelf = meta.node_fields.indexOf('self_size');
const nEdges = meta.node_fields.indexOf('edge_count');
const eType = meta.edge_fields.indexOf('type');
const eTo = meta.edge_fields.indexOf('to_node');
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const { nodes, edges, strings } = snap;
const N = nodes.length / NF;

const firstEdge = new Uint32Array(N + 1);
for (let i = 0, e = 0; i < N; i++) {
  firstEdge[i] = e;
  e += nodes[i * NF + nEdges] * EF;
  firstEdge[i + 1] = e;
}
const self = (i) => nodes[i * NF + nSelf];
const typeOf = (i) => nodeTypes[nodes[i * NF + nType]];
/** A class-like label: constructor name for objects, "(string)", "(array)", "(code)"... otherwise. */
function label(i) {
  const t = typeOf(i);
  const name = strings[nodes[i * NF + nName]];
  if (t === 'object' || t === 'native') return name;
  if (t === 'closure') return `(closure ${name || 'anonymous'})`;
  if (t === 'string' || t === 'concatenated string' || t === 'sliced string') return '(string)';
  return `(${t})`;
}
const weak = edgeTypes.indexOf('weak');

// self size by label
const bySelf = new Map();
for (let i = 0; i < N; i++) {
  const l = label(i);
  const a = bySelf.get(l) ?? { count: 0, bytes: 0 };
  a.count++;
  a.bytes += self(i);
  bySelf.set(l, a);
}

// post-order from the root (node 0), iteratively
const post = new Int32Array(N).fill(-1);
const order = new Uint32Array(N);
let count = 0;
{
  const visited = new Uint8Array(N);
  const stackNode = new Uint32Array(N);
  const stackEdge = new Uint32Array(N);
  let sp = 0;
  stackNode[0] = 0;
  stackEdge[0] = firstEdge[0];
  visited[0] = 1;
  while (sp >= 0) {
    const n = stackNode[sp];
    const e = stackEdge[sp];
    if (e < firstEdge[n + 1]) {
      stackEdge[sp] = e + EF;
      if (edges[e + eType] === weak) continue;
      const to = edges[e + eTo] / NF;
      if (visited[to]) continue;
      visited[to] = 1;
      sp++;
      stackNode[sp] = to;
      stackEdge[sp] = firstEdge[to];
    } else {
      post[n] = count;
      order[count++] = n;
      sp--;
    }
  }
}
// predecessors (reachable, non-weak)
const predCount = new Uint32Array(N + 1);
for (let i = 0; i < N; i++) {
  if (post[i] < 0) continue;
  for (let e = firstEdge[i]; e < firstEdge[i + 1]; e += EF)
    if (edges[e + eType] !== weak) predCount[edges[e + eTo] / NF + 1]++;
}
for (let i = 0; i < N; i++) predCount[i + 1] += predCount[i];
const preds = new Uint32Array(predCount[N]);
{
  const fill = predCount.slice(0, N);
  for (let i = 0; i < N; i++) {
    if (post[i] < 0) continue;
    for (let e = firstEdge[i]; e < firstEdge[i + 1]; e += EF)
      if (edges[e + eType] !== weak) preds[fill[edges[e + eTo] / NF]++] = i;
  }
}
// Cooper-Harvey-Kennedy on post-order numbers
const UNDEF = -1;
const idom = new Int32Array(count).fill(UNDEF); // indexed by post-order number
const rootPo = post[0];
idom[rootPo] = rootPo;
const intersect = (a, b) => {
  while (a !== b) {
    while (a < b) a = idom[a];
    while (b < a) b = idom[b];
  }
  return a;
};
for (let changed = true; changed;) {
  changed = false;
  for (let po = count - 2; po >= 0; po--) {
    const n = order[po];
    let d = UNDEF;
    for (let p = predCount[n]; p < predCount[n + 1]; p++) {
      const q = post[preds[p]];
      if (q < 0 || idom[q] === UNDEF) continue;
      d = d === UNDEF ? q : intersect(q, d);
    }
    if (d !== UNDEF && idom[po] !== d) {
      idom[po] = d;
      changed = true;
    }
  }
}
const retained = new Float64Array(count);
for (let po = 0; po < count; po++) retained[po] += self(order[po]);
for (let po = 0; po < count - 1; po++) if (idom[po] !== UNDEF && idom[po] !== po) retained[idom[po]] += retained[po];

const MB = (b) => (b / 1048576).toFixed(1);
const total = retained[rootPo];
process.stdout.write(`${file}: ${N} nodes, ${MB(total)} MB reachable\n\nself size by constructor (top ${top}):\n`);
for (const [l, a] of [...bySelf].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, top))
  process.stdout.write(`  ${MB(a.bytes).padStart(7)} MB  ${String(a.count).padStart(8)}  ${l}\n`);

const chain = (po) => {
  const names = [];
  for (let p = idom[po], k = 0; p !== rootPo && p !== UNDEF && k < 6; p = idom[p], k++) names.push(label(order[p]));
  return names.reverse().join(' > ');
};
process.stdout.write(
  `\nlargest retainers (objects retaining ≥ ${MIN / 1048576} MB, outermost first within a chain):\n`,
);
const big = [];
for (let po = 0; po < count; po++) {
  const t = typeOf(order[po]);
  if (po !== rootPo && retained[po] >= MIN && (t === 'object' || t === 'closure' || t === 'native')) big.push(po);
}
big.sort((a, b) => retained[b] - retained[a]);
for (const po of big.slice(0, top * 2))
  process.stdout.write(`  ${MB(retained[po]).padStart(7)} MB  ${label(order[po])}  [${chain(po)}]\n`);

// Where the strings are: total string bytes by the label of their immediate dominator, and the largest ones.
const strBy = new Map();
const bigStrings = [];
for (let po = 0; po < count; po++) {
  const i = order[po];
  if (label(i) !== '(string)') continue;
  const d = idom[po];
  const k = d === UNDEF || d === rootPo ? '(root)' : `${label(order[d])} < ${label(order[idom[d]] ?? 0)}`;
  strBy.set(k, (strBy.get(k) ?? 0) + retained[po]);
  if (self(i) >= 65536) bigStrings.push(i);
}
process.stdout.write(`\nstrings by immediate dominator (> 0.5 MB):\n`);
for (const [k, b] of [...strBy].sort((x, y) => y[1] - x[1]).filter(([, b]) => b > 524288))
  process.stdout.write(`  ${MB(b).padStart(7)} MB  ${k}\n`);
process.stdout.write(`\nstrings ≥ 64 KiB: ${bigStrings.length}\n`);
for (const i of bigStrings.sort((a, b) => self(b) - self(a)).slice(0, 10))
  process.stdout.write(
    `  ${MB(self(i)).padStart(7)} MB  ${JSON.stringify(strings[nodes[i * NF + nName]].slice(0, 100))}\n`,
  );
