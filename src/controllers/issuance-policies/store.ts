// The IssuancePolicies of the cluster, compiled once per change and shared by the issuance
// controller, the admission webhook and the policy status controller.
import type * as k8s from '@kubernetes/client-node';
import { parseIssuancePolicy } from '../../crds/index.ts';
import { compilePolicies, type CompiledPolicy } from '../../policy/evaluate.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { Condition } from '../status/conditions.ts';

export interface PolicyStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  matchedIdentities?: number;
  violations?: number;
}
export type PolicyObject = k8s.KubernetesObject & { spec?: unknown; status?: PolicyStatus };

export class PolicyStore {
  private compiledCache: CompiledPolicy[] | undefined;
  private invalidCache = new Map<string, string>();
  private readonly listeners: (() => void)[] = [];
  readonly informer: Informer<PolicyObject>;

  constructor(informer: Informer<PolicyObject>) {
    this.informer = informer;
    const changed = (): void => {
      this.compiledCache = undefined;
      for (const l of this.listeners) l();
    };
    // status writes do not change what a policy says: only spec (generation) changes recompile
    informer
      .onAdd(changed)
      .onDelete(changed)
      .onUpdate((o, n) => {
        if (o.metadata?.generation !== n.metadata?.generation) changed();
      });
  }

  /** Called after every change of a policy's spec, or a policy added or removed. */
  onChange(fn: () => void): this {
    this.listeners.push(fn);
    return this;
  }

  /** Valid policies, compiled; a policy that fails validation is left out (see invalid()). */
  compiled(): CompiledPolicy[] {
    if (this.compiledCache) return this.compiledCache;
    const inputs = [];
    const invalid = new Map<string, string>();
    for (const obj of this.informer.list()) {
      const parsed = parseIssuancePolicy(obj);
      if (parsed.success) inputs.push({ name: parsed.data.metadata.name, spec: parsed.data.spec });
      else invalid.set(obj.metadata?.name ?? '', parsed.error.message);
    }
    this.invalidCache = invalid;
    this.compiledCache = compilePolicies(inputs);
    return this.compiledCache;
  }

  /** Policies that failed validation, with the reason. */
  invalid(): ReadonlyMap<string, string> {
    this.compiled();
    return this.invalidCache;
  }
}
