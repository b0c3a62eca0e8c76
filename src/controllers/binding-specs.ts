// The parsed spec of a CertificateAuthorityBinding from the informer cache, parsed once per
// resourceVersion (a burst of identities all name the same binding).
import { parseCertificateAuthorityBinding } from '../crds/index.ts';
import type { CertificateAuthorityBinding } from '../crds/kinds.ts';
import type { BindingForOwnership } from '../policy/ownership.ts';
import type { OperatorContext } from './context.ts';

const parsed = new Map<string, CertificateAuthorityBinding | null>();
const MAX_ENTRIES = 1024;

export function parsedBinding(ctx: Pick<OperatorContext, 'informers'>, name: string): CertificateAuthorityBinding | undefined {
  const obj = ctx.informers.bindings.get(name);
  if (!obj) return undefined;
  const key = `${obj.metadata?.uid}/${obj.metadata?.resourceVersion}`;
  let p = parsed.get(key);
  if (p === undefined) {
    if (parsed.size >= MAX_ENTRIES) parsed.clear();
    const r = parseCertificateAuthorityBinding(obj);
    p = r.success ? r.data : null;
    parsed.set(key, p);
  }
  return p ?? undefined;
}

/** What the safe defaults need of a binding; a missing or invalid binding grants nothing. */
export function bindingForOwnership(ctx: Pick<OperatorContext, 'informers'>, name: string): BindingForOwnership {
  return { name, spec: parsedBinding(ctx, name)?.spec ?? {} };
}
