// The committed CRDs, Helm copies and API reference must be exactly what src/crds/ generates.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { buildCrds, renderGeneratedFiles } from '../../src/crds/index.ts';
import type { JSONSchemaProps } from '../../src/crds/openapi.ts';
import { FUTURE_TIME_FIELDS } from '../../src/crds/kinds.ts';

const ROOT = join(import.meta.dirname, '../..');
const files = renderGeneratedFiles();

function read(rel: string): string | undefined {
  try {
    return readFileSync(join(ROOT, rel), 'utf8');
  } catch {
    return undefined;
  }
}

/** Every schema node, with its path. */
function* nodes(s: JSONSchemaProps, path = ''): Generator<[string, JSONSchemaProps]> {
  yield [path, s];
  for (const [k, v] of Object.entries((s.properties as Record<string, JSONSchemaProps>) ?? {}))
    yield* nodes(v, `${path}.${k}`);
  if (s.items) yield* nodes(s.items as JSONSchemaProps, `${path}[]`);
  if (s.additionalProperties && typeof s.additionalProperties === 'object')
    yield* nodes(s.additionalProperties as JSONSchemaProps, `${path}{}`);
}

describe('generated files', () => {
  it.each([...files.keys()])('%s is up to date', (rel) => {
    const committed = read(rel);
    if (committed !== files.get(rel)) {
      throw new Error(
        `${rel} is ${committed === undefined ? 'missing' : 'stale'}: run \`npm run gen\` (node scripts/gen-crds.ts) and commit the result`,
      );
    }
  });

  it('config/crd files parse as the CRDs that were built', () => {
    for (const crd of buildCrds()) {
      const rel = [...files.keys()].find(
        (k) => k.startsWith('config/crd/') && k.endsWith(`_${(crd.spec.names as { plural: string }).plural}.yaml`),
      );
      expect(rel).toBeDefined();
      expect(loadAll(files.get(rel!)!)).toEqual([JSON.parse(JSON.stringify(crd))]);
    }
  });

  it('Helm copies are gated by crds.install and keep the CRDs with crds.keep', () => {
    const helm = [...files.entries()].filter(([k]) => k.startsWith('deploy/helm/'));
    expect(helm).toHaveLength(3);
    for (const [, text] of helm) {
      expect(text.startsWith('{{- if .Values.crds.install }}\n')).toBe(true);
      expect(text.trimEnd().endsWith('{{- end }}')).toBe(true);
      expect(text).toContain(
        '  {{- if .Values.crds.keep }}\n  annotations:\n    helm.sh/resource-policy: keep\n  {{- end }}\n',
      );
      expect(text).not.toMatch(/\{\{namespace/); // would be read as a template action
    }
  });
});

describe('CRD schemas', () => {
  const crds = buildCrds();
  const schemaOf = (i: number): JSONSchemaProps =>
    (crds[i]!.spec.versions as Array<{ schema: { openAPIV3Schema: JSONSchemaProps } }>)[0]!.schema.openAPIV3Schema;

  it('are structural: every node typed, no forbidden constructs', () => {
    for (const [i] of crds.entries()) {
      for (const [path, s] of nodes(schemaOf(i))) {
        expect([path, typeof s.type]).toEqual([path, 'string']);
        for (const k of ['$schema', '$ref', 'anyOf', 'oneOf', 'allOf', 'not', 'const', 'propertyNames'])
          expect([path, k, s[k]]).toEqual([path, k, undefined]);
        expect([path, s.additionalProperties === false]).toEqual([path, false]);
      }
    }
  });

  it('bound every string and list in spec (hostile input)', () => {
    for (const [i] of crds.entries()) {
      for (const [path, s] of nodes(schemaOf(i))) {
        if (!path.startsWith('.spec') || s['x-kubernetes-preserve-unknown-fields']) continue;
        if (s.type === 'string' && !s.enum && !s.pattern?.toString().endsWith('{2}$'))
          expect([path, typeof s.maxLength]).toEqual([path, 'number']);
        if (s.type === 'array') expect([path, typeof s.maxItems]).toEqual([path, 'number']);
        if (s.type === 'object' && s.additionalProperties)
          expect([path, typeof s.maxProperties]).toEqual([path, 'number']);
      }
    }
  });

  it('declare conditions as a list-map keyed by type, with a status subresource', () => {
    for (const [i, crd] of crds.entries()) {
      const cond = (
        (schemaOf(i).properties as Record<string, JSONSchemaProps>).status!.properties as Record<
          string,
          JSONSchemaProps
        >
      ).conditions!;
      expect(cond['x-kubernetes-list-type']).toBe('map');
      expect(cond['x-kubernetes-list-map-keys']).toEqual(['type']);
      expect((crd.spec.versions as Array<{ subresources: unknown }>)[0]!.subresources).toEqual({ status: {} });
      expect((crd.spec.names as { categories: string[] }).categories).toContain('machine-identity');
    }
  });

  it('use a category that is no resource name, so kubectl never expands a name into three kinds', () => {
    const names = crds.flatMap((c) => {
      const n = c.spec.names as { plural: string; singular: string; kind: string; shortNames: string[] };
      return [n.plural, n.singular, n.kind.toLowerCase(), ...n.shortNames];
    });
    for (const crd of crds) {
      for (const category of (crd.spec.names as { categories: string[] }).categories)
        expect(names).not.toContain(category);
    }
  });

  it('have the short names and printer columns of the contract', () => {
    const cols = (i: number): string[] =>
      (
        crds[i]!.spec.versions as Array<{ additionalPrinterColumns: Array<{ name: string }> }>
      )[0]!.additionalPrinterColumns.map((c) => c.name);
    expect(crds.map((c) => (c.spec.names as { shortNames: string[] }).shortNames)).toEqual([['mi'], ['cab'], ['ipol']]);
    expect(cols(0)).toEqual(expect.arrayContaining(['Ready', 'Secret', 'Authority', 'Expiry', 'Age']));
    expect(cols(1)).toEqual(expect.arrayContaining(['Ready', 'Backend', 'Identities']));
    expect(cols(2)).toEqual(expect.arrayContaining(['Enforcement', 'Violations']));
  });

  it('show times still ahead as timestamps: kubectl prints a future `date` column as <invalid>', () => {
    const all = crds.flatMap(
      (c) =>
        (
          c.spec.versions as Array<{
            additionalPrinterColumns: Array<{ name: string; type: string; jsonPath: string }>;
          }>
        )[0]!.additionalPrinterColumns,
    );
    const future = all.filter((c) => (FUTURE_TIME_FIELDS as readonly string[]).includes(c.jsonPath));
    expect(future.map((c) => [c.name, c.type])).toEqual([
      ['Expiry', 'string'],
      ['Renewal', 'string'],
      ['CA Expiry', 'string'],
    ]);
    // the only date columns left are ages of past times
    expect([...new Set(all.filter((c) => c.type === 'date').map((c) => c.jsonPath))]).toEqual([
      '.metadata.creationTimestamp',
    ]);
  });
});
