// npm run build: the operator as the image runs it, bundled with esbuild into dist/ (ESM, platform node).
// Why a bundle and not tsc's one file per module: `import * as k8s from '@kubernetes/client-node'` loads
// every generated API and model, and V8 keeps each module's source text for lazy compilation, so the
// operator carried ~15 MB of source strings and ~80 MB of RSS for APIs it never calls (docs/memory.md).
// esbuild drops the unused ones (tree shaking across packages).
//
// Entry points: the operator, the CLI, and every module a `new Worker(...)` or a worker's `import()`
// loads. Those are found at run time with siblingUrl(import.meta.url, name), i.e. beside the importing
// file: in a bundle every import.meta.url is the entry's own, so the worker entries go flat into dist/
// beside main.js (the CLI starts no worker).
//
// Whitespace and syntax are minified by default (--readable: not): V8 keeps every script's source text, and
// the readable bundle is 9.9 MB against 5.2 MB (11 MB less RSS at start, docs/memory.md). Identifiers are
// kept, so stack traces and heap snapshots still name the functions; the positions in a trace map back to
// src/ with `npm run -s stack < trace` through the source maps written beside each file (node
// --enable-source-maps would do it in the process, but holds ~85 MB of parsed maps in the heap).
//
// The output must be ASCII: V8 holds a script's source as a one-byte string only if every character fits,
// and one µ in a regex literal (esbuild escapes strings, not regexes or legal comments) doubled the 5 MB
// main.js in the heap. Legal comments go to <entry>.js.LEGAL.txt beside the bundle; anything else non-ASCII
// fails the build with its position.
//
// Type checking is separate (`npm run typecheck`, `tsc --noEmit -p tsconfig.build.json` in the image).
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');

/** dist/<out>.js ← src/<in>.ts. The worker entries must stay flat beside main.js (see above). */
const ENTRIES = {
  main: 'src/main.ts',
  'parse-worker': 'src/runtime/parse-worker.ts',
  tasks: 'src/parsing/tasks.ts',
  'probe-worker': 'src/validation/probe-worker.ts',
  'cli/main': 'src/cli/main.ts',
};

const { values } = parseArgs({ options: { outdir: { type: 'string' }, readable: { type: 'boolean' } } });
const minify = !values.readable;
const outdir = resolve(ROOT, values.outdir ?? 'dist');
const t0 = Date.now();
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: ROOT,
  entryPoints: Object.entries(ENTRIES).map(([out, input]) => ({ in: input, out })),
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: true,
  // the names stay readable in stack traces and heap snapshots; whitespace and syntax are cheap to drop
  minifyWhitespace: minify,
  minifySyntax: minify,
  // some bundled CommonJS packages call require() for node builtins, which ESM output does not define
  banner: {
    js: "import { createRequire as __mioRequire } from 'node:module'; const require = __mioRequire(import.meta.url);",
  },
  legalComments: 'external',
  charset: 'ascii',
  logLevel: 'warning',
});
// (--readable keeps the comments, some of which are not ASCII: it is for reading, not for the image)
const outputs = minify
  ? readdirSync(outdir, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.js'))
  : [];
for (const f of outputs) {
  const text = readFileSync(join(outdir, f), 'utf8');
  const at = text.search(/[^\x00-\x7f]/);
  if (at >= 0) {
    const line = text.slice(0, at).split('\n').length;
    throw new Error(
      `dist/${f}:${line}: a non-ASCII character in ${JSON.stringify(text.slice(at - 40, at + 20))}: escape it`,
    );
  }
}
process.stderr.write(
  `[bundle ${new Date().toISOString()}] ${Object.keys(ENTRIES).length} entries into ${outdir}${minify ? '' : ' (readable)'} in ${Date.now() - t0} ms\n`,
);
