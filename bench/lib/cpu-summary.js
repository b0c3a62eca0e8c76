#!/usr/bin/env node
// Summarises V8 .cpuprofile files (from `node --cpu-prof`, e.g. the operator under `bench issuance` with
// NODE_OPTIONS given through chart.extraEnv) as plain text: where the CPU went by function (self and total
// time) and by module (a package under node_modules, a file of ours, a node: internal, or V8's own
// "(garbage collector)" / "(program)"). Plain JavaScript like heap-summary.js, so it runs under any node.
//
//   node bench/lib/cpu-summary.js <file.cpuprofile> [--from=ms] [--to=ms] [--top=40] [--timeline]
//
// --from/--to keep only the samples in that window (ms since the profile started), e.g. the issuance
// phase without the operator's start-up; --timeline prints busy ms per second to choose the window.
// Total time counts a function once per sample however often it recurses in that stack.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const opt = (name, dflt) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? dflt : Number(a.slice(name.length + 3));
};
if (!file) {
  process.stderr.write('usage: cpu-summary.js <file.cpuprofile> [--from=ms] [--to=ms] [--top=40] [--timeline]\n');
  process.exit(2);
}
const from = opt('from', 0);
const to = opt('to', Infinity);
const top = opt('top', 40);
const profile = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const IDLE = new Set(['(idle)']);

/** The module a call frame belongs to: a package, a file of ours, a node internal, or V8's own bucket. */
function moduleOf(frame) {
  const url = frame.url ?? '';
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const m = /\/(dist|src|bench)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url;
}

const fnKey = (f) => `${f.functionName || '(anonymous)'} ${moduleOf(f)}:${f.lineNumber + 1}`;

// sample i lasts until sample i+1 (timeDeltas[i+1]); the last one gets the mean
const deltas = profile.timeDeltas;
const mean = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
const self = new Map();
const total = new Map();
const selfMod = new Map();
const totalMod = new Map();
const timeline = new Map();
// each sample charged to the innermost function of ours on its stack (dist/ or src/): what our code costs,
// the library and runtime work it called included; samples with none of ours go to the leaf's module
const ours = new Map();
const isOurs = (f) => /\/(dist|src)\//.test(f.url ?? '') && !(f.url ?? '').includes('/node_modules/');
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
let t = 0;
let busy = 0;
let idle = 0;
for (let i = 0; i < profile.samples.length; i++) {
  t += deltas[i] / 1000;
  const dt = (i + 1 < deltas.length ? deltas[i + 1] : mean) / 1000;
  if (t < from || t > to) continue;
  const leaf = byId.get(profile.samples[i]);
  if (IDLE.has(leaf.callFrame.functionName)) {
    idle += dt;
    continue;
  }
  busy += dt;
  add(timeline, Math.floor(t / 1000), dt);
  add(self, fnKey(leaf.callFrame), dt);
  add(selfMod, moduleOf(leaf.callFrame), dt);
  let mine;
  for (let id = leaf.id; id !== undefined && !mine; id = parent.get(id))
    if (isOurs(byId.get(id).callFrame)) mine = fnKey(byId.get(id).callFrame);
  add(ours, mine ?? `(not ours) ${moduleOf(leaf.callFrame)}`, dt);
  const seenFn = new Set();
  const seenMod = new Set();
  for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
    const f = byId.get(id).callFrame;
    if (f.functionName === '(root)') continue;
    const k = fnKey(f);
    if (!seenFn.has(k)) {
      add(total, k, dt);
      seenFn.add(k);
    }
    const mod = moduleOf(f);
    if (!seenMod.has(mod)) {
      add(totalMod, mod, dt);
      seenMod.add(mod);
    }
  }
}

const pct = (v) => ((100 * v) / busy).toFixed(1).padStart(5);
const ms = (v) => v.toFixed(0).padStart(7);
const table = (title, m, n) => {
  process.stdout.write(`\n## ${title}\n`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n))
    process.stdout.write(`${ms(v)} ms ${pct(v)}%  ${k}\n`);
};
process.stdout.write(
  `${file}\nwindow ${from}..${to === Infinity ? 'end' : to} ms of ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms; ` +
    `busy ${busy.toFixed(0)} ms, idle ${idle.toFixed(0)} ms\n`,
);
if (args.includes('--timeline')) {
  process.stdout.write('\n## busy ms per second of the profile\n');
  for (const [s, v] of [...timeline].sort((a, b) => a[0] - b[0]))
    process.stdout.write(`${String(s).padStart(4)} s ${ms(v)}\n`);
}
table('self time by module', selfMod, top);
table('total time by module (a sample counts once per module on its stack)', totalMod, top);
table('self time by function', self, top);
table('time by the innermost function of ours on the stack (library and runtime work it called included)', ours, top);
table('total time by function', total, top);
