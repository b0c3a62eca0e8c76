// docs/architecture.md stays true: every source path it names exists.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';

const doc = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');
const paths = [...new Set([...doc.matchAll(/`((?:src|test|hack|scripts|bench)\/[\w./-]+)`/g)].map((m) => m[1] ?? ''))];

describe('docs/architecture.md', () => {
  it('names files', () => {
    expect(paths.length).toBeGreaterThan(20);
  });
  it.each(paths)('%s exists', (p) => {
    expect(existsSync(new URL(`../../${p}`, import.meta.url))).toBe(true);
  });
});
