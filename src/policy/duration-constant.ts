// A duration written in our own code (a default, a cap) in milliseconds.
import { parseDuration } from '../crds/common.ts';

/** Parses a duration constant of ours; a malformed one is a bug, so it throws at module load. */
export function durationConstant(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`not a duration: ${text}`);
  return ms;
}
