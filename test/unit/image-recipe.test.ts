// The caching decisions of `npm run image` (scripts/lib/image-recipe.ts): which files are build
// context, when the input key changes, and when a cached archive is reused.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseTag, buildContext, cacheDecision, inputKey, removalOrder } from '../../scripts/lib/image-recipe.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('buildContext (.dockerignore as Docker applies it)', () => {
  const files = [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'README.md',
    'Dockerfile',
    'scripts/bundle.ts',
    'scripts/image.ts',
    'src/main.ts',
    'src/crypto/keys.ts',
    'src/crypto/keys.test.ts',
    'src/issuance/__tests__/a.ts',
    'src/issuance/__fixtures__/b.pem',
    'test/unit/x.test.ts',
    'deploy/helm/Chart.yaml',
  ];

  it("the repository's .dockerignore keeps the sources and manifests, drops tests, docs and everything else", () => {
    expect(buildContext(files, readFileSync(join(ROOT, '.dockerignore'), 'utf8'))).toEqual([
      'package-lock.json',
      'package.json',
      'scripts/bundle.ts',
      'src/crypto/keys.ts',
      'src/main.ts',
      'tsconfig.build.json',
      'tsconfig.json',
    ]);
  });

  it.each([
    ['no rules: everything', '', files.length],
    ['comments and blank lines are no rules', '# x\n\n', files.length],
    ['a directory rule covers what is inside', 'src\n', files.length - 5],
    ['a trailing slash is the same rule', 'src/\n', files.length - 5],
    ['** spans directories', '**/*.test.ts\n', files.length - 2],
    ['the last matching rule wins', '*\n!src/\nsrc/crypto\n', 3],
    ['? is one character', 'package?json\n', files.length - 1],
    ['a leading slash is the context root', '/README.md\n', files.length - 1],
  ])('%s', (_name, ignore, count) => {
    expect(buildContext(files, ignore)).toHaveLength(count);
  });
});

describe('inputKey', () => {
  const a = { name: 'context/a', content: 'one' };
  const b = { name: 'context/b', content: Buffer.from('two') };
  const key = inputKey([a, b]);

  it.each([
    ['the order of the inputs', true, [b, a]],
    ['a string and the same bytes', true, [a, { name: 'context/b', content: 'two' }]],
    ['an edited file', false, [a, { ...b, content: 'two!' }]],
    ['a renamed file', false, [a, { ...b, name: 'context/c' }]],
    ['an added file', false, [a, b, { name: 'context/c', content: '' }]],
    ['a removed file', false, [a]],
    [
      'content moved between names',
      false,
      [
        { ...a, content: 'two' },
        { ...b, content: 'one' },
      ],
    ],
  ])('%s: same key = %s', (_name, same, inputs) => {
    expect(inputKey(inputs) === key).toBe(same);
  });

  it('is a sha256 hex digest', () => {
    expect(key).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('cacheDecision', () => {
  it.each([
    ['artifact and matching marker', { marker: 'k', artifact: true }, { action: 'reuse' }],
    ['a marker with a trailing newline', { marker: 'k\n', artifact: true }, { action: 'reuse' }],
    ['forced', { marker: 'k', artifact: true, force: true }, { action: 'build', reason: 'forced' }],
    ['no artifact', { marker: 'k', artifact: false }, { action: 'build', reason: 'no cached artifact' }],
    ['no marker (a build died before writing it)', { artifact: true }, { action: 'build', reason: 'no cache marker' }],
    ['another key', { marker: 'other', artifact: true }, { action: 'build', reason: 'inputs changed' }],
  ])('%s', (_name, have, decision) => {
    expect(cacheDecision('k', have)).toEqual(decision);
  });
});

it('baseTag names the Node version and the recipe, so a changed recipe never reuses a stale base', () => {
  expect(baseTag('24.21.0', 'abcdef0123456789')).toBe('localhost/mio-node-base:24.21.0-bookworm-slim-abcdef012345');
});

describe('removalOrder (a stale base and what was built on it)', () => {
  // old -> a -> b (a build chain), old -> c; keep -> k (the current base's chain); x has no parent
  const parents = new Map([
    ['a', 'old'],
    ['b', 'a'],
    ['c', 'old'],
    ['k', 'keep'],
  ]);

  it.each([
    ['children before parents, the root last', ['old'], ['b', 'a', 'c', 'old']],
    ['the current base and its chain are left alone', ['old'], expect.not.arrayContaining(['keep', 'k', 'x'])],
    ['no stale base: nothing', [], []],
    ['a root with nothing built on it', ['x'], ['x']],
  ])('%s', (_name, roots, want) => {
    expect(removalOrder(roots, parents)).toEqual(want);
  });

  it('a parent cycle (never made by podman) ends the walk instead of looping', () => {
    expect(
      removalOrder(
        ['r'],
        new Map([
          ['p', 'q'],
          ['q', 'p'],
        ]),
      ),
    ).toEqual(['r']);
  });
});
