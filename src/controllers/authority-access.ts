// Which CertificateAuthorityBinding a MachineIdentity may use: a pure decision.
import { matchesSelector, type LabelSelector } from '../policy/label-selector.ts';
import { Reason } from '../crds/reasons.ts';

export interface BindingView {
  name: string;
  namespaceSelector?: LabelSelector;
}
export type AuthorityDecision =
  | { allowed: true; binding: BindingView }
  | { allowed: false; reason: typeof Reason.AuthorityNotFound | typeof Reason.AuthorityNotAllowed; message: string };

/** An absent namespaceSelector means every namespace, as does `{}` (the contract's "empty = every"). */
export function decideAuthority(
  authorityName: string,
  namespace: string,
  namespaceLabels: Record<string, string> | undefined,
  bindings: ReadonlyMap<string, BindingView>,
): AuthorityDecision {
  const binding = bindings.get(authorityName);
  if (!binding) {
    return {
      allowed: false,
      reason: Reason.AuthorityNotFound,
      message: `CertificateAuthorityBinding ${JSON.stringify(authorityName)} does not exist; create it or fix spec.authorityRef.name`,
    };
  }
  if (!matchesSelector(binding.namespaceSelector ?? {}, namespaceLabels)) {
    return {
      allowed: false,
      reason: Reason.AuthorityNotAllowed,
      message: `CertificateAuthorityBinding ${JSON.stringify(authorityName)} does not serve namespace ${JSON.stringify(namespace)}: its namespaceSelector does not match the namespace's labels`,
    };
  }
  return { allowed: true, binding };
}
