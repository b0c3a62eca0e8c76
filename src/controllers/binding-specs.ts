// A binding's parsed spec from the informer cache (the informer parsed it once per resourceVersion).
import type { ValidBindingModel } from '../crds/index.ts';
import type { BindingForOwnership } from '../policy/ownership.ts';
import type { OperatorContext } from './context.ts';

/** The binding named `name` when its spec is valid. */
function validBinding(ctx: Pick<OperatorContext, 'informers'>, name: string): ValidBindingModel | undefined {
  const b = ctx.informers.bindings.get(name);
  return b?.spec ? b : undefined;
}

/** What the safe defaults need of a binding; a missing or invalid binding grants nothing. */
export function bindingForOwnership(ctx: Pick<OperatorContext, 'informers'>, name: string): BindingForOwnership {
  return { name, spec: validBinding(ctx, name)?.spec ?? {} };
}
