// Values a MachineIdentity leaves to the operator, chosen so that the selected policies are met:
// an unset duration is the default capped at the tightest maxDuration (and raised to the largest
// minDuration), an unset key size is the smallest size (or curve) every policy allows. An explicit
// value is never changed: a spec that asks for too much is denied, not silently rewritten.
import { DEFAULT_DURATION, KEY_SIZES } from '../crds/machine-identity.ts';
import { formatDuration, parseDuration } from '../crds/common.ts';
import { durationConstant } from './duration-constant.ts';
import type { CompiledPolicy } from './evaluate.ts';
import { ECDSA_CURVE_OF_SIZE } from './types.ts';

const DEFAULT_MS = durationConstant(DEFAULT_DURATION);

export interface RequestDefaults {
  /** The spec's duration, or the resolved one when it is unset (a Go duration string). */
  duration: string;
  durationMs: number;
  /** The spec's key size, or the resolved one when it is unset (undefined for Ed25519). */
  keySize?: number;
  /** True when a policy moved a value away from the plain default. */
  byPolicy: boolean;
}

interface SpecView {
  duration?: string | undefined;
  privateKey?: { algorithm?: string | undefined; size?: number | undefined } | undefined;
}

export function resolveDefaults(spec: SpecView, selected: readonly CompiledPolicy[]): RequestDefaults {
  const d = resolveDuration(spec.duration, selected);
  const k = resolveKeySize(spec.privateKey?.algorithm ?? 'ECDSA', spec.privateKey?.size, selected);
  const out: RequestDefaults = { duration: d.duration, durationMs: d.ms, byPolicy: d.byPolicy || k.byPolicy };
  if (k.size !== undefined) out.keySize = k.size;
  return out;
}

function resolveDuration(
  explicit: string | undefined,
  selected: readonly CompiledPolicy[],
): { duration: string; ms: number; byPolicy: boolean } {
  if (explicit !== undefined)
    return { duration: explicit, ms: parseDuration(explicit) ?? Number.POSITIVE_INFINITY, byPolicy: false };
  const ms = defaultDurationMs(selected);
  return ms === DEFAULT_MS
    ? { duration: DEFAULT_DURATION, ms, byPolicy: false }
    : { duration: formatDuration(ms), ms, byPolicy: true };
}

/** The default lifetime capped at the tightest maxDuration and raised to the largest minDuration. */
export function defaultDurationMs(selected: readonly Pick<CompiledPolicy, 'rules'>[]): number {
  let ms = DEFAULT_MS;
  let floor = 0;
  for (const { rules } of selected) {
    ms = tighterCap(ms, rules.maxDurationMs);
    floor = higherFloor(floor, rules.minDurationMs);
  }
  // conflicting policies (a floor above another's cap) cannot both be met: take the floor; evaluation reports the cap
  return floor > ms && floor <= DEFAULT_MS ? floor : ms;
}

function tighterCap(ms: number, max: number | undefined): number {
  return max !== undefined && max > 0 && max < ms ? max : ms;
}

function higherFloor(floor: number, min: number | undefined): number {
  return min !== undefined && Number.isFinite(min) && min > floor ? min : floor;
}

function resolveKeySize(
  algorithm: string,
  explicit: number | undefined,
  selected: readonly CompiledPolicy[],
): { size?: number; byPolicy: boolean } {
  if (explicit !== undefined) return { size: explicit, byPolicy: false };
  const sizes = (KEY_SIZES as Record<string, readonly number[] | undefined>)[algorithm] ?? [];
  const first = sizes[0];
  if (first === undefined) return { byPolicy: false };
  const fits = (size: number): boolean =>
    selected.every((p) => {
      const pk = p.spec.rules?.privateKey;
      if (!pk) return true;
      if (algorithm === 'RSA') return pk.minRSASize === undefined || size >= pk.minRSASize;
      return pk.allowedECDSACurves === undefined || pk.allowedECDSACurves.includes(ECDSA_CURVE_OF_SIZE[size] as never);
    });
  const size = sizes.find(fits) ?? first;
  return { size, byPolicy: size !== first };
}
