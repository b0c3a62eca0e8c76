// Values a MachineIdentity leaves to the operator, chosen so that the selected policies are met:
// an unset duration is the default capped at the tightest maxDuration (and raised to the largest
// minDuration), an unset key size is the smallest size (or curve) every policy allows. An explicit
// value is never changed: a spec that asks for too much is denied, not silently rewritten.
import { DEFAULT_DURATION, KEY_SIZES } from '../crds/machine-identity.ts';
import { formatDuration, parseDuration } from '../crds/common.ts';
import type { CompiledPolicy } from './evaluate.ts';

const CURVE_OF_SIZE: Record<number, string> = { 256: 'P-256', 384: 'P-384', 521: 'P-521' };
const DEFAULT_MS = parseDuration(DEFAULT_DURATION)!;

export interface RequestDefaults {
  /** The spec's duration, or the resolved one when it is unset (a Go duration string). */
  duration: string;
  durationMs: number;
  /** The spec's key size, or the resolved one when it is unset (undefined for Ed25519). */
  keySize?: number;
  /** True when a policy moved a value away from the plain default. */
  byPolicy: boolean;
}

interface SpecView { duration?: string | undefined; privateKey?: { algorithm?: string | undefined; size?: number | undefined } | undefined }

export function resolveDefaults(spec: SpecView, selected: readonly CompiledPolicy[]): RequestDefaults {
  const d = resolveDuration(spec.duration, selected);
  const k = resolveKeySize(spec.privateKey?.algorithm ?? 'ECDSA', spec.privateKey?.size, selected);
  const out: RequestDefaults = { duration: d.duration, durationMs: d.ms, byPolicy: d.byPolicy || k.byPolicy };
  if (k.size !== undefined) out.keySize = k.size;
  return out;
}

function resolveDuration(explicit: string | undefined, selected: readonly CompiledPolicy[]): { duration: string; ms: number; byPolicy: boolean } {
  if (explicit !== undefined) return { duration: explicit, ms: parseDuration(explicit) ?? Number.POSITIVE_INFINITY, byPolicy: false };
  let ms = DEFAULT_MS;
  let floor = 0;
  for (const p of selected) {
    const { maxDurationMs: max, minDurationMs: min } = p.rules;
    if (max !== undefined && max > 0 && max < ms) ms = max;
    if (min !== undefined && Number.isFinite(min) && min > floor) floor = min;
  }
  // conflicting policies (a floor above another's cap) cannot both be met: take the floor; evaluation reports the cap
  if (floor > ms && floor <= DEFAULT_MS) ms = floor;
  return ms === DEFAULT_MS ? { duration: DEFAULT_DURATION, ms, byPolicy: false } : { duration: formatDuration(ms), ms, byPolicy: true };
}

function resolveKeySize(algorithm: string, explicit: number | undefined, selected: readonly CompiledPolicy[]): { size?: number; byPolicy: boolean } {
  if (explicit !== undefined) return { size: explicit, byPolicy: false };
  const sizes = (KEY_SIZES as Record<string, readonly number[] | undefined>)[algorithm] ?? [];
  if (sizes.length === 0) return { byPolicy: false };
  const fits = (size: number): boolean => selected.every((p) => {
    const pk = p.spec.rules?.privateKey;
    if (!pk) return true;
    if (algorithm === 'RSA') return pk.minRSASize === undefined || size >= pk.minRSASize;
    return pk.allowedECDSACurves === undefined || pk.allowedECDSACurves.includes(CURVE_OF_SIZE[size] as never);
  });
  const size = sizes.find(fits) ?? sizes[0]!;
  return { size, byPolicy: size !== sizes[0] };
}
