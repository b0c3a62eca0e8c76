// zod schema -> Kubernetes structural OpenAPI v3 schema.
// z.toJSONSchema (target openapi-3.0, io input so defaulted fields are optional) does the heavy lifting;
// this pass keeps only what apiextensions.k8s.io/v1 accepts and fails loudly on anything else, so an
// unsupported zod construct shows up at generation time rather than as a rejected CRD.
import { z } from 'zod';

export type JSONSchemaProps = { [key: string]: unknown };

const PASSTHROUGH = new Set([
  'type',
  'format',
  'description',
  'default',
  'enum',
  'pattern',
  'nullable',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'required',
]);
const DROPPED = new Set(['$schema', 'title', 'examples', 'id']);
const SAFE_INT = Number.MAX_SAFE_INTEGER;

/** The structural OpenAPI schema of a zod schema. */
export function toOpenAPI(schema: z.ZodType): JSONSchemaProps {
  const raw = z.toJSONSchema(schema, {
    io: 'input',
    target: 'openapi-3.0',
    unrepresentable: 'throw',
  }) as JSONSchemaProps;
  return structural(raw, '');
}

function structural(node: JSONSchemaProps, path: string): JSONSchemaProps {
  const out: JSONSchemaProps = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key)) continue;
    if (PASSTHROUGH.has(key) || key.startsWith('x-kubernetes-')) out[key] = value;
    else if (key === 'properties')
      out.properties = mapValues(value as Record<string, JSONSchemaProps>, (v, k) => structural(v, `${path}.${k}`));
    else if (key === 'items') out.items = structural(value as JSONSchemaProps, `${path}[]`);
    else if (key === 'additionalProperties') {
      if (typeof value === 'object' && value !== null && Object.keys(value).length > 0) {
        out.additionalProperties = structural(value as JSONSchemaProps, `${path}{}`);
      }
    } else {
      throw new Error(`${path || '<root>'}: ${key} is not expressible in a structural CRD schema`);
    }
  }
  return tidy(out, path);
}

function tidy(out: JSONSchemaProps, path: string): JSONSchemaProps {
  if (out.type === undefined) throw new Error(`${path || '<root>'}: every node needs a type`);
  if (out.type === 'object' && out.properties && out.additionalProperties) {
    throw new Error(`${path}: properties and additionalProperties are mutually exclusive`);
  }
  dropImplied(out);
  return sortKeys(dropEmpty(out));
}

/** What zod writes that a CRD schema implies anyway: the safe-integer bounds, a date-time pattern. */
function dropImplied(out: JSONSchemaProps): void {
  if (out.type === 'integer' && out.minimum === -SAFE_INT) delete out.minimum;
  if (out.type === 'integer' && out.maximum === SAFE_INT) delete out.maximum;
  if (out.format === 'date-time') delete out.pattern; // the API server checks the format itself
}

function dropEmpty(out: JSONSchemaProps): JSONSchemaProps {
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  if (out['x-kubernetes-preserve-unknown-fields'] === true) {
    delete out.properties;
    delete out.additionalProperties;
  }
  // The API server drops an empty `properties` (omitempty); leave it out so the stored CRD diffs clean in GitOps.
  if (out.properties !== undefined && Object.keys(out.properties as object).length === 0) delete out.properties;
  if (Array.isArray(out['x-kubernetes-validations']) && out['x-kubernetes-validations'].length === 0) {
    delete out['x-kubernetes-validations'];
  }
  return out;
}

function mapValues<T, U>(o: Record<string, T>, f: (v: T, k: string) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v, k)]));
}

/** Alphabetical keys everywhere except inside `default` values, as controller-gen writes them. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, k === 'default' ? v : sortKeys(v)])) as T;
}

/** Paths of fields in `obj` that the schema would prune (unknown fields), e.g. `spec.dnsName`. */
export function unknownFields(obj: unknown, schema: JSONSchemaProps, path = ''): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields'] === true) return [];
  if (Array.isArray(obj)) {
    const items = schema.items as JSONSchemaProps | undefined;
    return items ? obj.flatMap((v, i) => unknownFields(v, items, `${path}[${i}]`)) : [];
  }
  if (obj === null || typeof obj !== 'object') return [];
  const props = schema.properties as Record<string, JSONSchemaProps> | undefined;
  const extra = schema.additionalProperties as JSONSchemaProps | undefined;
  const found: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const child = props?.[k] ?? extra;
    const childPath = path ? `${path}.${k}` : k;
    if (!child) found.push(childPath);
    else found.push(...unknownFields(v, child, childPath));
  }
  return found;
}
