// Files stay small enough to read: a src/ file over 300 lines says why on its first line.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SRC = new URL('../../src/', import.meta.url).pathname;
const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));

describe('src/ file sizes', () => {
  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(100);
  });
  it('every file over 300 lines starts with a one-line reason', () => {
    const long = files
      .map((f) => ({ f, text: readFileSync(join(SRC, f), 'utf8') }))
      .filter(({ text }) => text.split('\n').length > 301)
      .filter(({ text }) => !text.startsWith('// over 300 lines: '))
      .map(({ f }) => f);
    expect(long).toEqual([]);
  });
});
