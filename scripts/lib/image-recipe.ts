// Pure decisions for `npm run image`: which repository files are the image's build context (the
// .dockerignore rules, as Docker applies them), the cache key of a set of inputs, and whether a cached
// artifact can be reused. No I/O here, so the caching rules are table-tested (test/unit/image-recipe.test.ts).
import { createHash } from 'node:crypto';

interface IgnoreRule {
  negate: boolean;
  re: RegExp;
}

/** One .dockerignore pattern as a regular expression over a slash-separated relative path. */
function ruleOf(line: string): IgnoreRule {
  const negate = line.startsWith('!');
  const pattern = (negate ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of directories, including none
      re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return { negate, re: new RegExp(`^${re}$`) };
}

/** A path and every directory above it: a rule that matches a directory covers what is inside. */
function selfAndParents(path: string): string[] {
  const parts = path.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/**
 * The files of `paths` that Docker sends as build context under these .dockerignore lines: the last
 * matching rule wins, `!` re-includes, a rule matching a directory matches everything below it.
 */
export function buildContext(paths: readonly string[], dockerignore: string): string[] {
  const rules = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map(ruleOf);
  return paths
    .filter((p) => {
      const candidates = selfAndParents(p);
      let included = true;
      for (const r of rules) if (candidates.some((c) => r.re.test(c))) included = r.negate;
      return included;
    })
    .sort();
}

/** A file of the recipe: its path (or a name) and its bytes. */
export interface Input {
  name: string;
  content: string | Uint8Array;
}

/**
 * The cache key of a recipe: a sha256 over the sorted names and the sha256 of each content, so the key
 * changes exactly when a file is added, removed, renamed or edited (not when only its mtime moves).
 */
export function inputKey(inputs: readonly Input[]): string {
  const h = createHash('sha256');
  const sorted = [...inputs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const i of sorted) h.update(`${i.name}\0${createHash('sha256').update(i.content).digest('hex')}\n`);
  return h.digest('hex');
}

export type CacheDecision = { action: 'reuse' } | { action: 'build'; reason: string };

/**
 * Reuse a cached artifact only when it exists and its marker holds the key of the inputs it was made
 * from; a forced run always builds.
 */
export function cacheDecision(
  want: string,
  have: { marker?: string; artifact: boolean; force?: boolean },
): CacheDecision {
  if (have.force) return { action: 'build', reason: 'forced' };
  if (!have.artifact) return { action: 'build', reason: 'no cached artifact' };
  if (have.marker === undefined) return { action: 'build', reason: 'no cache marker' };
  if (have.marker.trim() !== want) return { action: 'build', reason: 'inputs changed' };
  return { action: 'reuse' };
}

/** The local tag of the base image, unique per recipe so a changed recipe never reuses a stale image. */
export function baseTag(nodeVersion: string, key: string): string {
  return `localhost/mio-node-base:${nodeVersion}-bookworm-slim-${key.slice(0, 12)}`;
}

/**
 * The images to remove with the stale bases `roots`: every image whose parent chain reaches a root (the
 * images and build layers made on it), children before parents so each removal is of a leaf.
 */
export function removalOrder(roots: readonly string[], parentOf: ReadonlyMap<string, string>): string[] {
  const depth = new Map<string, number>();
  for (const id of new Set([...roots, ...parentOf.keys()])) {
    const seen = new Set<string>();
    for (let at: string | undefined = id, d = 0; at !== undefined && !seen.has(at); at = parentOf.get(at), d++) {
      seen.add(at);
      if (roots.includes(at)) {
        depth.set(id, d);
        break;
      }
    }
  }
  return [...depth.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
}
