// A MachineIdentity as the controllers see it (see model.ts): the parsed spec with its durations in
// milliseconds, or the ValidationError; the status parsed leniently.
import type * as k8s from '@kubernetes/client-node';
import { API_VERSION } from './common.ts';
import { DEFAULT_DURATION, MachineIdentitySpec, MachineIdentityStatus } from './machine-identity.ts';
import {
  durationMs,
  lenientStatus,
  metadataOf,
  rawParts,
  validFields,
  type Model,
  type ModelMetadata,
} from './model.ts';
import { parseMachineIdentity, type ValidationError } from './parse.ts';

/** What an unset spec.duration means when no IssuancePolicy shortens it. */
export const DEFAULT_DURATION_MS = durationMs(DEFAULT_DURATION);

export interface ResolvedMachineIdentitySpec extends MachineIdentitySpec {
  /**
   * spec.duration in ms. Undefined when unset: the selected IssuancePolicies resolve it (at most
   * DEFAULT_DURATION_MS), so "unset" is kept apart from "asked for the default".
   */
  durationMs?: number;
  /** spec.renewBefore in ms, when set. */
  renewBeforeMs?: number;
  /** spec.rollout.restartWhenStaleAfter in ms, when set. */
  restartWhenStaleAfterMs?: number;
}

/** The spec an identity is issued from: duration resolved (by the IssuancePolicies when unset). */
export type IssuableSpec = ResolvedMachineIdentitySpec & { duration: string; durationMs: number };

/** A namespaced object from the API always has a namespace and a uid. */
interface IdentityMetadata extends ModelMetadata {
  namespace: string;
  uid: string;
}

export type MachineIdentityModel = Model<
  ResolvedMachineIdentitySpec,
  MachineIdentityStatus,
  Partial<MachineIdentitySpec>,
  IdentityMetadata
>;

/** The spec, or of an invalid one the fields valid on their own: for references (authority, Secret), never for issuing. */
export function identityFields(mi: MachineIdentityModel): Partial<MachineIdentitySpec> {
  return mi.spec ?? mi.partial;
}

/** Durations of a parsed spec in milliseconds; nothing else changes. */
function resolveMachineIdentitySpec(spec: MachineIdentitySpec): ResolvedMachineIdentitySpec {
  const out: ResolvedMachineIdentitySpec = { ...spec };
  if (spec.duration !== undefined) out.durationMs = durationMs(spec.duration);
  if (spec.renewBefore !== undefined) out.renewBeforeMs = durationMs(spec.renewBefore);
  const stale = spec.rollout?.restartWhenStaleAfter;
  if (stale !== undefined) out.restartWhenStaleAfterMs = durationMs(stale);
  return out;
}

type SpecPart =
  { spec: ResolvedMachineIdentitySpec } | { invalid: ValidationError; partial: Partial<MachineIdentitySpec> };

/**
 * The spec's parse by uid, for the generation it was parsed at. The API server bumps metadata.generation
 * on every spec change (the status is a subresource), so an update of the status or metadata alone (most
 * watch events: our own status writes) reuses the parse instead of running the schema again.
 */
const specParses = new Map<string, { generation: number; part: SpecPart }>();
const MAX_SPEC_PARSES = 200_000;

function specPart(
  obj: k8s.KubernetesObject,
  base: { apiVersion: string; kind: string; metadata: IdentityMetadata },
): SpecPart {
  const { uid, generation } = base.metadata;
  const hit = uid && generation !== undefined ? specParses.get(uid) : undefined;
  if (hit && hit.generation === generation) return hit.part;
  const raw = rawParts(obj);
  // the status is left out of the parse: it is ours, and a damaged one is no reason to call the spec invalid
  const parsed = parseMachineIdentity({
    apiVersion: base.apiVersion,
    kind: base.kind,
    metadata: base.metadata,
    spec: raw.spec,
  });
  const part: SpecPart = parsed.success
    ? { spec: resolveMachineIdentitySpec(parsed.data.spec) }
    : { invalid: parsed.error, partial: validFields(MachineIdentitySpec, raw.spec) };
  if (uid && generation !== undefined) {
    if (specParses.size >= MAX_SPEC_PARSES) specParses.clear(); // uids of deleted identities are never read again
    specParses.set(uid, { generation, part });
  }
  return part;
}

/** The informer's transform for MachineIdentities: parses the object once per resourceVersion, the spec once per generation. */
export function toMachineIdentityModel(obj: k8s.KubernetesObject): MachineIdentityModel {
  const raw = rawParts(obj);
  const meta = metadataOf(obj);
  const metadata: IdentityMetadata = { ...meta, namespace: meta.namespace ?? '', uid: meta.uid ?? '' };
  const base = {
    apiVersion: obj.apiVersion ?? API_VERSION,
    kind: obj.kind ?? 'MachineIdentity',
    metadata,
    status: lenientStatus(MachineIdentityStatus, raw.status),
  };
  const part = specPart(obj, base);
  return { ...base, ...part };
}
