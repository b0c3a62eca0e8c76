// The grants of a CertificateAuthorityBinding (spec.grants), compiled once per spec and selected
// by namespace: what the security team allows a namespace beyond the names it owns.
import type { CertificateAuthorityBindingSpec } from '../crds/certificate-authority-binding.ts';
import { compileCidr, type Cidr } from './ip-ranges.ts';
import { matchesSelector } from './label-selector.ts';
import { compileDnsPattern, compileEmailPattern, compileUriPattern } from './patterns.ts';
import type { DnsPattern, EmailPattern, UriPattern } from './patterns.ts';

export interface CompiledGrant {
  namespaceSelector?: CertificateAuthorityBindingSpec['namespaceSelector'];
  dnsNames: DnsPattern[];
  cidrs: Cidr[];
  uris: UriPattern[];
  emails: EmailPattern[];
  allowWildcards: boolean;
  allowCA: boolean;
}

type Grants = NonNullable<CertificateAuthorityBindingSpec['grants']>;
const compiledGrants = new WeakMap<Grants, CompiledGrant[]>();

function compileGrants(grants: Grants): CompiledGrant[] {
  let c = compiledGrants.get(grants);
  if (!c) {
    c = grants.map((g) => {
      const out: CompiledGrant = {
        dnsNames: (g.dnsNames ?? []).map(compileDnsPattern),
        cidrs: (g.ipAddresses ?? []).map(compileCidr),
        uris: (g.uris ?? []).map(compileUriPattern),
        emails: (g.emailAddresses ?? []).map(compileEmailPattern),
        allowWildcards: g.allowWildcards === true,
        allowCA: g.allowCA === true,
      };
      if (g.namespaceSelector) out.namespaceSelector = g.namespaceSelector;
      return out;
    });
    compiledGrants.set(grants, c);
  }
  return c;
}

/** The grants that select a namespace (an absent or empty selector selects every namespace). */
export function grantsFor(
  grants: Grants | undefined,
  namespace: string,
  namespaceLabels: Record<string, string>,
): CompiledGrant[] {
  if (!grants || grants.length === 0) return [];
  const labels = { ...namespaceLabels, 'kubernetes.io/metadata.name': namespace };
  return compileGrants(grants).filter((g) => matchesSelector(g.namespaceSelector ?? {}, labels));
}
