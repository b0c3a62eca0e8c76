// npm run -s stack [-- --dist <dir>] < trace.txt: maps the positions in a stack trace of the bundled operator
// (<dir>/<entry>.js:line:col as the image logs them, whatever directory the bundle was in) back to src/ through
// the source maps the build writes beside each bundle. Offline on purpose: `node --enable-source-maps` would do
// it in the operator, but it keeps the parsed maps in the heap (~85 MB more, measured in docs/memory.md), which
// the chart's heap limit cannot afford.
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { dist: { type: 'string' } } });
const DIST = resolve(values.dist ?? join(ROOT, 'dist'));
const maps = new Map<string, SourceMap | undefined>();

function mapFor(file: string): SourceMap | undefined {
  if (!maps.has(file)) {
    let m: SourceMap | undefined;
    try {
      m = new SourceMap(JSON.parse(readFileSync(join(DIST, `${file}.map`), 'utf8')));
    } catch {
      m = undefined; // no map for it: the position is left as it is
    }
    maps.set(file, m);
  }
  return maps.get(file);
}

/** `…/cli/main.js:3:1200` → `src/cli/main.ts:41:7` when the map knows the position. */
function mapPosition(whole: string, file: string, line: string, col: string): string {
  const e = mapFor(file)?.findEntry(Number(line) - 1, Number(col) - 1);
  if (!e || !('originalSource' in e)) return whole;
  const src = relative(ROOT, resolve(DIST, e.originalSource.replace(/^file:\/\//, '')));
  return `${src}:${e.originalLine + 1}:${e.originalColumn + 1}`;
}

const text = readFileSync(0, 'utf8');
process.stdout.write(text.replace(/(?:file:\/\/)?[^\s()]*?\/((?:cli\/)?[\w-]+\.js):(\d+):(\d+)/g, mapPosition));
