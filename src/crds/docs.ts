// docs/api-reference.md, generated from the same OpenAPI schemas (and so the same zod descriptions).
import { API_VERSION } from './common.ts';
import { objectOpenAPI } from './crd.ts';
import { KINDS } from './kinds.ts';
import type { KindDefinition } from './kinds.ts';
import type { JSONSchemaProps } from './openapi.ts';
import { renderReasons } from './reasons-reference.ts';

interface Row {
  path: string;
  type: string;
  required: boolean;
  def: string;
  constraints: string;
  description: string;
}
interface CelRow {
  path: string;
  rule: string;
  message: string;
}

const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string): string => `\`${s.replace(/`/g, "'")}\``;

function typeOf(s: JSONSchemaProps): string {
  if (s.type === 'array') return `[]${typeOf(s.items as JSONSchemaProps)}`;
  if (s.type === 'object' && s.additionalProperties)
    return `map[string]${typeOf(s.additionalProperties as JSONSchemaProps)}`;
  return String(s.type) + (s.format ? ` (${String(s.format)})` : '');
}

const BOUNDS: ReadonlyArray<[string, string]> = [
  ['minLength', 'min length'],
  ['maxLength', 'max length'],
  ['minimum', 'min'],
  ['maximum', 'max'],
  ['minItems', 'min items'],
  ['maxItems', 'max items'],
  ['maxProperties', 'max entries'],
];

/** enum, bounds and item rules: what a value (or each item) may be. */
function valueConstraints(s: JSONSchemaProps): string[] {
  const c: string[] = [];
  if (Array.isArray(s.enum)) c.push(`one of ${s.enum.map((v) => code(String(v))).join(', ')}`);
  const items = s.items as JSONSchemaProps | undefined;
  if (items && Array.isArray(items.enum)) c.push(`items one of ${items.enum.map((v) => code(String(v))).join(', ')}`);
  for (const [k, label] of BOUNDS) if (s[k] !== undefined) c.push(`${label} ${String(s[k])}`);
  if (items?.maxLength !== undefined) c.push(`item max length ${String(items.maxLength)}`);
  return c;
}

export function constraintsOf(s: JSONSchemaProps): string {
  const c = valueConstraints(s);
  if (typeof s.pattern === 'string' && s.pattern.length <= 80) c.push(`pattern ${code(s.pattern)}`);
  if (s['x-kubernetes-list-type'] === 'set') c.push('unique items');
  if (s['x-kubernetes-list-type'] === 'map')
    c.push(`list-map keyed by ${(s['x-kubernetes-list-map-keys'] as string[]).join(', ')}`);
  if (s.nullable) c.push('nullable');
  return c.join('; ');
}

interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
}

function rowOf(s: JSONSchemaProps, path: string, required: boolean): Row {
  return {
    path,
    type: typeOf(s),
    required,
    def: s.default === undefined ? '' : code(JSON.stringify(s.default)),
    constraints: constraintsOf(s),
    description: String(s.description ?? ''),
  };
}

function celRows(s: JSONSchemaProps, path: string): CelRow[] {
  const rules = (s['x-kubernetes-validations'] as CelRule[] | undefined) ?? [];
  return rules.map((v) => ({ path: `${path}${v.fieldPath ?? ''}`, rule: v.rule, message: v.message }));
}

function walk(s: JSONSchemaProps, path: string, required: boolean, rows: Row[], cel: CelRow[]): void {
  if (path) rows.push(rowOf(s, path, required));
  cel.push(...celRows(s, path));
  const props = s.properties as Record<string, JSONSchemaProps> | undefined;
  const req = new Set((s.required as string[] | undefined) ?? []);
  for (const [k, child] of Object.entries(props ?? {})) walk(child, path ? `${path}.${k}` : k, req.has(k), rows, cel);
  const items = s.items as JSONSchemaProps | undefined;
  if (items?.type === 'object') walk(items, `${path}[]`, false, rows, cel);
  else if (items?.['x-kubernetes-validations']) walk({ ...items, description: undefined }, `${path}[]`, false, [], cel);
}

function section(def: KindDefinition): string {
  const schema = objectOpenAPI(def);
  const props = schema.properties as Record<string, JSONSchemaProps>;
  const out: string[] = [
    `## ${def.kind}`,
    '',
    `${def.description}`,
    '',
    `- apiVersion: \`${API_VERSION}\`, scope: ${def.scope}, plural: \`${def.plural}\`, short names: ${def.shortNames.map(code).join(', ')}, categories: ${def.categories.map(code).join(', ')}`,
    `- subresources: \`status\`${def.maxNameLength ? `; metadata.name at most ${def.maxNameLength} characters` : ''}`,
    `- \`kubectl get\` columns: ${def.printerColumns.map((c) => `${c.name}${c.priority ? ' (-o wide)' : ''}`).join(', ')}`,
    '',
  ];
  for (const part of ['spec', 'status'] as const) {
    const rows: Row[] = [];
    const cel: CelRow[] = [];
    walk(props[part] as JSONSchemaProps, part, false, rows, cel);
    out.push(`### ${def.kind} ${part}`, '', String((props[part] as JSONSchemaProps).description ?? ''), '');
    out.push('| Field | Type | Required | Default | Validation | Description |', '|---|---|---|---|---|---|');
    for (const r of rows) {
      out.push(
        `| ${code(r.path)} | ${esc(r.type)} | ${r.required ? 'yes' : ''} | ${esc(r.def)} | ${esc(r.constraints)} | ${esc(r.description)} |`,
      );
    }
    out.push('');
    if (cel.length > 0) {
      out.push(
        `Cross-field rules checked by the API server (CEL) on ${def.kind} ${part}:`,
        '',
        '| Field | Message | Rule |',
        '|---|---|---|',
      );
      for (const c of cel) out.push(`| ${code(c.path)} | ${esc(c.message)} | ${code(esc(c.rule))} |`);
      out.push('');
    }
  }
  return out.join('\n');
}

const PREAMBLE = `# API reference: \`${API_VERSION}\`

<!-- Generated by scripts/gen-crds.ts from src/crds/. Do not edit: change the zod schemas and run \`npm run gen\`. -->

The three kinds below are defined once, as zod schemas in \`src/crds/\`. The same definitions give the
TypeScript types, the in-process validation (\`parseMachineIdentity\` and friends), the CRDs in
\`config/crd/\` and the Helm chart, and this page. Durations are Go duration strings (\`90m\`, \`24h\`,
\`1h30m\`). Every rule in the *Validation* column and every CEL rule is enforced by the API server itself.

Choices made where the design contract is silent:

- A MachineIdentity must name at least one identity (common name or a SAN). \`privateKey.size\` left unset
  means ECDSA P-256 or RSA 2048. \`renewBefore\` must be at least 5m and shorter than \`duration\`; with neither
  \`renewBefore\` nor \`renewBeforePercentage\` the identity renews at 2/3 of its lifetime. Names are limited to
  63 characters because the name is a label value on the Secret. At most 100 DNS names, 32 IPs, URIs and
  e-mail addresses.
- A CertificateAuthorityBinding without \`namespaceSelector\` serves every namespace, like an empty selector.
  \`status.backend\` names the backend in use (for \`kubectl get cab\`). The signer defaults to a trust domain of
  \`cluster.local\` and 24h pod certificates (at least 1h, the Kubernetes minimum).
- In an IssuancePolicy every rule that is left out allows anything; an empty \`allowed\` list allows nothing.
  \`{{namespace}}\` in a pattern is the request's namespace.
`;

export function renderApiReference(): string {
  return `${PREAMBLE}\n${KINDS.map(section).join('\n')}\n${renderReasons()}`;
}
