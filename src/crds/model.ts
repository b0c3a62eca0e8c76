// The one typed model of our objects as the controllers see them: what the informers store, built once
// per resourceVersion (the informer's transform). The spec is parsed and resolved (defaults applied,
// durations in milliseconds) or carries the ValidationError that the InvalidSpec condition reports;
// the status (our own writes) is parsed leniently, so a damaged one never makes the object unusable.
import type * as k8s from '@kubernetes/client-node';
import type { z } from 'zod';
import { parseDuration } from './common.ts';
import type { ValidationError } from './parse.ts';

/** metadata as the API server sends it; a stored object always has a name. */
export interface ModelMetadata extends k8s.V1ObjectMeta {
  name: string;
}

/**
 * Either the parsed and resolved spec, or why it did not parse together with the spec's fields that
 * are valid on their own (`partial`: what a reference needs, such as the authority an invalid identity
 * names or the Secret to revoke; never a basis for issuing).
 */
type SpecOrError<Spec, Partial> =
  | { spec: Spec; invalid?: undefined; partial?: undefined }
  | { spec?: undefined; invalid: ValidationError; partial: Partial };

export type Model<Spec, Status, Partial, Meta extends ModelMetadata = ModelMetadata> = {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  status?: Status;
} & SpecOrError<Spec, Partial>;

/** A Go duration string the schema already validated, in milliseconds. */
export function durationMs(s: string): number {
  // the schema only lets valid durations through: the fallback is unreachable, and NaN would fail loudly
  return parseDuration(s) ?? Number.NaN;
}

/** The object's metadata without managedFields (large, and nothing here reads them). */
export function metadataOf(obj: k8s.KubernetesObject): ModelMetadata {
  const { managedFields: _managed, ...rest } = obj.metadata ?? {};
  return { ...rest, name: rest.name ?? '' };
}

/** The fields of `raw` that parse on their own (each with its own schema from `schema`'s shape). */
export function validFields<S extends z.ZodObject>(schema: S, raw: unknown): Partial<z.output<S>> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const out: Partial<z.output<S>> = {};
  for (const [k, v] of Object.entries(raw)) {
    const r = schema.shape[k]?.safeParse(v);
    if (r?.success && r.data !== undefined) Object.assign(out, { [k]: r.data });
  }
  return out;
}

/**
 * The status, field by field where the whole does not parse: one bad field (say, a condition message
 * over the limit) drops that field, not the status; something that is not an object is no status.
 */
export function lenientStatus<S extends z.ZodObject>(schema: S, raw: unknown): z.output<S> | undefined {
  if (raw === undefined || raw === null) return undefined;
  const whole = schema.safeParse(raw);
  if (whole.success) return whole.data;
  if (typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const rebuilt = schema.safeParse(validFields(schema, raw));
  return rebuilt.success ? rebuilt.data : undefined;
}

/** The raw `status` and `spec` of an object from the API, whatever their shape. */
export function rawParts(obj: k8s.KubernetesObject): { spec: unknown; status: unknown } {
  return { spec: 'spec' in obj ? obj.spec : undefined, status: 'status' in obj ? obj.status : undefined };
}
