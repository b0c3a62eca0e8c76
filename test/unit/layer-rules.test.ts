// The layer rules of .dependency-cruiser.cjs (what `npm run lint:layers` checks), run through the real
// depcruise CLI: on a throwaway tree where every rule is broken once, each rule fires on exactly the
// import that breaks it; and on the real src/, the violations are exactly the known list below.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: { name: string }[];
}

const depcruise = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [DEPCRUISE, ...args, '--config', CONFIG], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 120_000,
  });

/** The violations depcruise finds in `dir` (relative to `cwd`), one line each: `rule: from → to`. */
function cruise(cwd: string, dir: string): string[] {
  const r = depcruise(cwd, dir, '--output-type', 'json');
  if (!r.stdout) throw new Error(`depcruise produced no output (exit ${r.status}): ${r.stderr}`);
  const result = JSON.parse(r.stdout) as { summary: { violations: Violation[] } };
  return result.summary.violations
    .map(
      (v) => `${v.rule.name}: ${v.cycle ? [v.from, ...v.cycle.map((c) => c.name)].join(' → ') : `${v.from} → ${v.to}`}`,
    )
    .sort();
}

describe('layer rules on a tree that breaks each of them', () => {
  let tree = '';
  const files: Record<string, string> = {
    // allowed: crds on the ground floor, policy on crds and pki, issuers on runtime and pki, tests anywhere
    'src/pki/keys.ts': 'export const key = 1;\n',
    'src/runtime/kube.ts': 'export const kube = 1;\n',
    'src/crds/model.ts':
      "import { key } from '../pki/keys.ts';\nimport { kube } from '../runtime/kube.ts';\nexport const model = key + kube;\n",
    'src/policy/decide.ts':
      "import { model } from '../crds/model.ts';\nimport { key } from '../pki/keys.ts';\nexport const decide = model + key;\n",
    'src/issuers/ok.ts':
      "import { kube } from '../runtime/kube.ts';\nimport { key } from '../pki/keys.ts';\nexport const ok = kube + key;\n",
    'src/pki/keys.test.ts': "import { loop } from '../controllers/loop.ts';\nexport const t = loop;\n",
    // broken, one rule each (type-only imports count)
    'src/pki/usages.ts': "import type { Model } from '../crds/types.ts';\nexport const u: Model = 1;\n",
    'src/crds/types.ts': 'export type Model = number;\n',
    'src/runtime/informer.ts': "import { key } from '../pki/keys.ts';\nexport const informer = key;\n",
    'src/crds/uses-policy.ts': "import { decide } from '../policy/decide.ts';\nexport const x = decide;\n",
    'src/policy/uses-issuer.ts': "import { ok } from '../issuers/ok.ts';\nexport const y = ok;\n",
    'src/issuers/uses-controller.ts': "import { loop } from '../controllers/loop.ts';\nexport const z = loop;\n",
    'src/controllers/loop.ts':
      "import type { Back } from './back.ts';\nexport const loop = 1;\nexport type Fwd = Back;\n",
    'src/controllers/back.ts': "import type { Fwd } from './loop.ts';\nexport type Back = Fwd | number;\n",
    'src/controllers/gone.ts': "import { nothing } from './moved-away.ts';\nexport const g = nothing;\n",
    'src/webhook/from-test.ts': "import { fixture } from '../../test/fixture.ts';\nexport const w = fixture;\n",
    'test/fixture.ts': 'export const fixture = 1;\n',
  };

  beforeAll(() => {
    tree = mkdtempSync(join(tmpdir(), 'mio-layers-'));
    writeFileSync(
      join(tree, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', allowImportingTsExtensions: true, noEmit: true } }),
    );
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
    }
  });
  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  it('fails on each wrong import, and only on those', () => {
    expect(cruise(tree, 'src')).toEqual([
      'crds-only-above-ground-floor: src/crds/uses-policy.ts → src/policy/decide.ts',
      'issuers-not-above: src/issuers/uses-controller.ts → src/controllers/loop.ts',
      'no-circular: src/controllers/back.ts → src/controllers/loop.ts → src/controllers/back.ts',
      'pki-is-ground-floor: src/pki/usages.ts → src/crds/types.ts',
      'policy-only-crds-and-pki: src/policy/uses-issuer.ts → src/issuers/ok.ts',
      'resolvable: src/controllers/gone.ts → ./moved-away.ts',
      'runtime-is-ground-floor: src/runtime/informer.ts → src/pki/keys.ts',
      'src-not-tests-or-tools: src/webhook/from-test.ts → test/fixture.ts',
    ]);
  });

  it('fails `npm run lint:layers` (the same command), naming every broken rule', () => {
    const r = depcruise(tree, 'src', '--output-type', 'err');
    expect(r.status).not.toBe(0);
    for (const rule of [
      'no-circular',
      'pki-is-ground-floor',
      'runtime-is-ground-floor',
      'crds-only-above-ground-floor',
      'policy-only-crds-and-pki',
      'issuers-not-above',
      'src-not-tests-or-tools',
      'resolvable',
    ]) {
      expect(r.stdout).toContain(`error ${rule}: `);
    }
  });

  it('passes once the wrong imports are gone', () => {
    const clean = mkdtempSync(join(tmpdir(), 'mio-layers-clean-'));
    try {
      writeFileSync(join(clean, 'tsconfig.json'), '{}');
      for (const path of [
        'src/pki/keys.ts',
        'src/runtime/kube.ts',
        'src/crds/model.ts',
        'src/policy/decide.ts',
        'src/issuers/ok.ts',
        'src/pki/keys.test.ts',
        'src/controllers/loop.ts',
      ]) {
        mkdirSync(dirname(join(clean, path)), { recursive: true });
        writeFileSync(
          join(clean, path),
          path === 'src/controllers/loop.ts' ? 'export const loop = 1;\n' : (files[path] ?? ''),
        );
      }
      expect(cruise(clean, 'src')).toEqual([]);
      expect(depcruise(clean, 'src', '--output-type', 'err').status).toBe(0);
    } finally {
      rmSync(clean, { recursive: true, force: true });
    }
  });
});

describe('layer rules on the real src/', () => {
  it('reports no violation', () => {
    expect(cruise(ROOT, 'src')).toEqual([]);
  });
});
