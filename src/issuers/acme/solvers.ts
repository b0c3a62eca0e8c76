// Which solver answers which authorization: pure, table-tested. cert-manager's rule, kept because
// users know it: an exact dnsNames match beats the longest dnsZones match, which beats a solver
// without a selector; among equals, the first listed. IP identifiers can only be proven over
// HTTP-01 (RFC 8738), wildcards only over DNS-01 (RFC 8555 §7.1.3).
import type { CertificateAuthorityBindingSpecInput } from '../../crds/certificate-authority-binding.ts';
import type { Identifier } from './protocol.ts';

/** A binding's acme.solvers entry, as written (the chooser reads no defaulted field, so parsed specs fit too). */
export type SolverSpec = NonNullable<NonNullable<CertificateAuthorityBindingSpecInput['acme']>['solvers']>[number];
export type Choice = { type: 'http-01' | 'dns-01'; solver: SolverSpec; index: number } | { error: string };

/** The solver used when a binding lists none: HTTP-01 answered by the operator's own listener. */
export const DEFAULT_SOLVER: SolverSpec = { http01: {} };

const lower = (s: string): string => s.toLowerCase().replace(/\.$/, '');

/** How specifically a solver's selector names this identifier: -1 no match, 0 no selector, 1+zone length, 1000 exact name. */
const hasSelector = (s: SolverSpec): boolean => Boolean(s.selector?.dnsNames?.length || s.selector?.dnsZones?.length);

export function specificity(solver: SolverSpec, name: string, wildcard: boolean): number {
  const sel = solver.selector;
  if (!sel || !hasSelector(solver)) return 0;
  const n = lower(name);
  // dnsNames name certificates' names: *.example.com selects the wildcard, example.com the base name
  const full = wildcard ? `*.${n}` : n;
  if (sel.dnsNames?.some((d) => lower(d) === full)) return 1000;
  let best = -1;
  for (const z of sel.dnsZones ?? []) {
    const zone = lower(z);
    if (n === zone || n.endsWith(`.${zone}`)) best = Math.max(best, 1 + zone.split('.').length);
  }
  return best;
}

export function chooseSolver(id: Identifier, wildcard: boolean, solvers: readonly SolverSpec[] | undefined): Choice {
  const list = solvers?.length ? solvers : [DEFAULT_SOLVER];
  const usable = (s: SolverSpec): boolean =>
    id.type === 'ip' ? Boolean(s.http01) : wildcard ? Boolean(s.dns01) : true;
  let best: { s: SolverSpec; i: number; score: number } | undefined;
  list.forEach((s, i) => {
    const score = id.type === 'ip' ? (hasSelector(s) ? -1 : 0) : specificity(s, id.value, wildcard);
    if (score < 0 || !usable(s)) return;
    if (!best || score > best.score) best = { s, i, score };
  });
  const name = wildcard ? `*.${id.value}` : id.value;
  if (!best) {
    const need =
      id.type === 'ip'
        ? 'an http01 solver without a selector (IP addresses are validated over HTTP-01)'
        : wildcard
          ? 'a dns01 solver (wildcard names are validated over DNS-01 only)'
          : 'a solver whose selector matches it';
    return { error: `no ACME solver for ${name}: add ${need}` };
  }
  if (best.s.dns01 && !best.s.dns01.rfc2136)
    return {
      error: `the dns01 solver for ${name} has no rfc2136 section: this version solves DNS-01 through RFC 2136 only`,
    };
  return { type: best.s.dns01 ? 'dns-01' : 'http-01', solver: best.s, index: best.i };
}

/** The TXT record name for a DNS-01 challenge of `name` (the base name for a wildcard). */
export function dns01RecordName(name: string): string {
  return `_acme-challenge.${lower(name).replace(/^\*\./, '')}`;
}
