// Reading manifests from a GitOps checkout: files or directories (recursively), YAML streams or JSON,
// `kind: List` unwrapped. Every document keeps where it came from, for messages a person can find.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as yaml from 'js-yaml';

export interface Manifest {
  source: string;
  doc: number;
  object: Record<string, unknown>;
}
export interface ReadError {
  source: string;
  message: string;
}

const MANIFEST = /\.(ya?ml|json)$/i;
/** A manifest larger than this is not a Kubernetes object anyone applies (etcd's limit is 1.5 MiB). */
const MAX_FILE = 8 * 1024 * 1024;

function listFiles(path: string): string[] {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) =>
      e.isDirectory() ? listFiles(join(path, e.name)) : MANIFEST.test(e.name) ? [join(path, e.name)] : [],
    );
}

export function readManifestFiles(
  paths: readonly string[],
  cwd = process.cwd(),
): { manifests: Manifest[]; errors: ReadError[] } {
  const manifests: Manifest[] = [];
  const errors: ReadError[] = [];
  for (const p of paths) {
    let files: string[];
    try {
      files = listFiles(p);
    } catch (e) {
      errors.push({ source: p, message: (e as Error).message });
      continue;
    }
    for (const f of files) readManifestFile(f, relative(cwd, f) || f, manifests, errors);
  }
  return { manifests, errors };
}

/** One file's documents into `manifests`, or one error for the file. */
function readManifestFile(f: string, source: string, manifests: Manifest[], errors: ReadError[]): void {
  try {
    if (statSync(f).size > MAX_FILE) throw new Error(`larger than ${MAX_FILE} bytes`);
    const docs = yaml.loadAll(readFileSync(f, 'utf8'));
    docs.forEach((d, i) => {
      for (const object of unwrap(d)) manifests.push({ source, doc: i + 1, object });
    });
  } catch (e) {
    errors.push({ source, message: (e as Error).message.split('\n')[0] ?? 'unreadable' });
  }
}

function unwrap(d: unknown): Record<string, unknown>[] {
  if (!d || typeof d !== 'object' || Array.isArray(d)) return [];
  const o = d as Record<string, unknown>;
  if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) return o.items.flatMap(unwrap);
  return [o];
}
