// In-process validation at the edges: typed objects or a readable error that lists field paths.
import { propertyOf } from '../runtime/narrow.ts';
import type { z } from 'zod';
import {
  CERTIFICATE_AUTHORITY_BINDING,
  CertificateAuthorityBindingSchema,
  ISSUANCE_POLICY,
  IssuancePolicySchema,
  MACHINE_IDENTITY,
  MachineIdentitySchema,
} from './kinds.ts';
import type { CertificateAuthorityBinding, IssuancePolicy, KindDefinition, MachineIdentity } from './kinds.ts';
import { objectOpenAPI } from './crd.ts';
import { unknownFields } from './openapi.ts';

export interface FieldIssue {
  /** e.g. `spec.dnsNames[3]` */
  path: string;
  message: string;
}

export class ValidationError extends Error {
  readonly kind: string;
  readonly issues: readonly FieldIssue[];
  constructor(kind: string, name: string | undefined, issues: readonly FieldIssue[]) {
    const head = `invalid ${kind}${name ? ` "${name}"` : ''}`;
    super(`${head}: ${issues.map((i) => `${i.path || '<root>'}: ${i.message}`).join('; ')}`);
    this.name = 'ValidationError';
    this.kind = kind;
    this.issues = issues;
  }
}

export type ParseResult<T> = { success: true; data: T } | { success: false; error: ValidationError };

export interface ParseOptions {
  /** Also report fields the CRD schema does not know (the API server would prune or, with strict field validation, reject them). */
  strict?: boolean;
}

/** Formats a zod issue path as a Kubernetes field path: `spec.dnsNames[3]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function parseWith<S extends z.ZodType>(
  def: KindDefinition,
  schema: S,
  obj: unknown,
  opts: ParseOptions,
): ParseResult<z.output<S>> {
  const name = propertyOf(propertyOf(obj, 'metadata'), 'name');
  const displayName = typeof name === 'string' ? name : undefined;
  const issues: FieldIssue[] = [];
  if (opts.strict) {
    for (const path of unknownFields(obj, objectOpenAPI(def))) {
      if (!path.startsWith('metadata.')) issues.push({ path, message: 'unknown field' }); // metadata is the API server's
    }
  }
  const result = schema.safeParse(obj);
  if (!result.success) {
    for (const i of result.error.issues) issues.push({ path: formatPath(i.path), message: i.message });
  }
  if (issues.length > 0 || !result.success)
    return { success: false, error: new ValidationError(def.kind, displayName, issues) };
  return { success: true, data: result.data };
}

export function parseMachineIdentity(obj: unknown, opts: ParseOptions = {}): ParseResult<MachineIdentity> {
  return parseWith(MACHINE_IDENTITY, MachineIdentitySchema, obj, opts);
}

export function parseCertificateAuthorityBinding(
  obj: unknown,
  opts: ParseOptions = {},
): ParseResult<CertificateAuthorityBinding> {
  return parseWith(CERTIFICATE_AUTHORITY_BINDING, CertificateAuthorityBindingSchema, obj, opts);
}

export function parseIssuancePolicy(obj: unknown, opts: ParseOptions = {}): ParseResult<IssuancePolicy> {
  return parseWith(ISSUANCE_POLICY, IssuancePolicySchema, obj, opts);
}

export type AnyResource = MachineIdentity | CertificateAuthorityBinding | IssuancePolicy;

/** Dispatches on `kind`; for manifests read from files (the CLI's policy check). */
export function parseResource(obj: unknown, opts: ParseOptions = {}): ParseResult<AnyResource> {
  const kind = propertyOf(obj, 'kind');
  switch (kind) {
    case 'MachineIdentity':
      return parseMachineIdentity(obj, opts);
    case 'CertificateAuthorityBinding':
      return parseCertificateAuthorityBinding(obj, opts);
    case 'IssuancePolicy':
      return parseIssuancePolicy(obj, opts);
    default:
      return {
        success: false,
        error: new ValidationError('resource', undefined, [
          { path: 'kind', message: `unknown kind ${JSON.stringify(kind)}` },
        ]),
      };
  }
}

/** Like the parse functions, but throws the ValidationError. */
export function mustParse<T>(result: ParseResult<T>): T {
  if (!result.success) throw result.error;
  return result.data;
}
