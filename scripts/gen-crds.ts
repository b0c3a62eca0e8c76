// Writes the CRDs (config/crd/), their Helm copies and docs/api-reference.md from src/crds/, and the alert
// rules and Grafana dashboard (plain and in the chart) from src/monitoring/.
// Usage: node scripts/gen-crds.ts [--check]   (--check: exit 1 if any file is stale, write nothing)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderGeneratedFiles } from '../src/crds/render.ts';
import { renderMonitoringFiles } from '../src/monitoring/render.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
let stale = 0;
for (const [rel, content] of [...renderGeneratedFiles(), ...renderMonitoringFiles()]) {
  const file = join(root, rel);
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === content) continue;
  stale++;
  if (check) {
    process.stderr.write(`stale: ${rel}\n`);
    continue;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  process.stdout.write(`wrote ${rel}\n`);
}
if (check && stale > 0) {
  process.stderr.write(`${stale} generated file(s) are stale: run \`npm run gen\`\n`);
  process.exit(1);
}
if (!check && stale === 0) process.stdout.write('generated files are up to date\n');
