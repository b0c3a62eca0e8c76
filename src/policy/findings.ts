// What a rule returns (findings, the violation without its policy) and how their messages read:
// values JSON-quoted so that a hostile name cannot forge the text.
import type { Violation } from './types.ts';

export type Finding = Omit<Violation, 'policy' | 'enforcement'>;
/** What a rule returns when it finds nothing: shared, so the common case allocates nothing. */
export const NONE: readonly Finding[] = Object.freeze([]);

const MAX_SHOWN = 256;

/** JSON-quotes a value for a message: control and non-ASCII characters escaped, long values cut. */
export function quote(v: string): string {
  const cut = v.length > MAX_SHOWN ? v.slice(0, MAX_SHOWN) : v;
  const q = JSON.stringify(cut).replace(
    /[^\x20-\x7e]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return v.length > MAX_SHOWN ? `${q}…(${v.length - MAX_SHOWN} more characters)` : q;
}

/** A policy-supplied item as shown in a list: bare when plain, quoted otherwise. */
function showItem(s: string): string {
  return /^[\x21-\x7e]+$/.test(s) && !/[,;"]/.test(s) ? s : quote(s);
}

function showList(items: readonly string[]): string {
  const shown = items.slice(0, 10).map(showItem).join(', ');
  return items.length > 10 ? `${shown}, … (${items.length - 10} more)` : shown;
}

export function noneOf(items: readonly string[], verb: 'matches none of' | 'is not one of' | 'is in none of'): string {
  return items.length === 0 ? 'is not allowed (the allowed list is empty)' : `${verb} ${showList(items)}`;
}

export function finding(rule: string, field: string, value: string, why: string): Finding {
  return { rule, field, value, message: `${field} ${quote(value)} ${why}` };
}

/** Findings for each element of `values` that `ok` rejects. */
export function eachValue(
  values: readonly string[],
  field: string,
  rule: string,
  ok: (v: string, i: number) => boolean,
  why: () => string,
): readonly Finding[] {
  let out: Finding[] | undefined;
  let text: string | undefined; // built only when something fails
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== undefined && !ok(v, i)) (out ??= []).push(finding(rule, `${field}[${i}]`, v, (text ??= why())));
  }
  return out ?? NONE;
}
