// trustBundle: a ConfigMap with the binding's CA bundle in every namespace the binding serves. Ours
// carry the label machineidentity.io/trust-bundle=<binding>; a ConfigMap of that name without it
// belongs to someone else and is never touched (Warning event TrustBundleConflict instead).
import type { BindingModel } from '../../crds/index.ts';
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Informer } from '../../runtime/informer.ts';
import { isNotFound, SSA, toKubeError } from '../../runtime/kube.ts';
import { matchesSelector, type LabelSelector } from '../../policy/label-selector.ts';
import type { OperatorContext } from '../context.ts';
import { recordEvent } from '../events.ts';
import { BindingReason } from '../../crds/reasons.ts';

const TRUST_BUNDLE_LABEL = 'machineidentity.io/trust-bundle';
/** The full binding name (a label value holds at most 63 characters). */
export const BINDING_ANNOTATION = 'machineidentity.io/binding';

/** A label value for an object name: the name itself when it fits, else a prefix plus a hash. */
export function labelValue(name: string): string {
  if (name.length <= 63) return name;
  return `${name.slice(0, 54)}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/** What to publish: a bundle, nothing (remove ours), or leave what is there (CA temporarily unusable). */
export type Desired =
  | { kind: 'publish'; configMapName: string; key: string; bundlePem: string; namespaceSelector?: LabelSelector }
  | { kind: 'remove' }
  | { kind: 'keep' };
type Publish = Extract<Desired, { kind: 'publish' }>;

export class TrustBundles {
  readonly informer: Informer<k8s.V1ConfigMap>;
  private readonly ctx: OperatorContext;
  private readonly core: k8s.CoreV1Api;
  private readonly fieldManager: string;

  constructor(ctx: OperatorContext, fieldManager: string) {
    this.ctx = ctx;
    this.fieldManager = fieldManager;
    this.core = ctx.kc.makeApiClient(k8s.CoreV1Api);
    this.informer = new Informer<k8s.V1ConfigMap>({
      kc: ctx.kc,
      path: '/api/v1/configmaps',
      labelSelector: TRUST_BUNDLE_LABEL,
      registry: ctx.registry,
      logger: ctx.log,
      resource: 'configmaps',
    });
  }

  /** The binding that owns a ConfigMap of ours. */
  static bindingOf(cm: k8s.V1ConfigMap): string | undefined {
    return cm.metadata?.annotations?.[BINDING_ANNOTATION] ?? cm.metadata?.labels?.[TRUST_BUNDLE_LABEL];
  }

  private ours(binding: string): k8s.V1ConfigMap[] {
    const label = labelValue(binding);
    return this.informer
      .list()
      .filter((cm) => cm.metadata?.labels?.[TRUST_BUNDLE_LABEL] === label && TrustBundles.bindingOf(cm) === binding);
  }

  /** Namespaces the binding serves (absent selector = all), skipping those being deleted. */
  servedNamespaces(selector: LabelSelector | undefined): string[] {
    return this.ctx.informers.namespaces
      .list()
      .filter((ns) => ns.status?.phase !== 'Terminating' && !ns.metadata?.deletionTimestamp)
      .filter((ns) => matchesSelector(selector ?? {}, ns.metadata?.labels))
      .flatMap((ns) => (ns.metadata?.name ? [ns.metadata.name] : []));
  }

  /** Converges the binding's ConfigMaps; returns how many namespaces hold a foreign ConfigMap of that name. */
  async sync(binding: BindingModel, desired: Desired, log: Logger): Promise<{ conflicts: number }> {
    if (desired.kind === 'keep') return { conflicts: 0 };
    const ours = this.ours(binding.metadata.name);
    const want =
      desired.kind === 'publish' ? new Set(this.servedNamespaces(desired.namespaceSelector)) : new Set<string>();
    const conflicts = desired.kind === 'publish' ? await this.publishAll(binding, want, ours, desired, log) : 0;
    for (const cm of ours) if (stale(cm, want, desired)) await this.remove(cm, log);
    return { conflicts };
  }

  /** Publishes the bundle in every namespace of `want` where ours is missing or out of date; the number of conflicts. */
  private async publishAll(
    binding: BindingModel,
    want: ReadonlySet<string>,
    ours: readonly k8s.V1ConfigMap[],
    desired: Publish,
    log: Logger,
  ): Promise<number> {
    let conflicts = 0;
    for (const ns of want) {
      const existing = ours.find((cm) => cm.metadata?.namespace === ns && cm.metadata.name === desired.configMapName);
      if (existing && upToDate(existing, desired, binding.metadata.name)) continue;
      if (!(await this.publish(binding, ns, desired, existing !== undefined, log))) conflicts++;
    }
    return conflicts;
  }

  /** Removes every ConfigMap of ours for a binding that is gone. Lists from the API: the cache may lag. */
  async removeAll(binding: string, log: Logger): Promise<void> {
    const list = await this.core.listConfigMapForAllNamespaces({
      labelSelector: `${TRUST_BUNDLE_LABEL}=${labelValue(binding)}`,
    });
    for (const cm of list.items) if (TrustBundles.bindingOf(cm) === binding) await this.remove(cm, log);
  }

  /** Applies the ConfigMap unless a foreign one of that name exists; false on conflict. */
  private async publish(
    binding: BindingModel,
    namespace: string,
    d: Publish,
    known: boolean,
    log: Logger,
  ): Promise<boolean> {
    if (!known && (await this.foreign(binding, namespace, d))) return false;
    try {
      await this.core.patchNamespacedConfigMap(
        {
          name: d.configMapName,
          namespace,
          body: bundleConfigMap(binding, namespace, d),
          fieldManager: this.fieldManager,
          force: true,
        },
        SSA,
      );
      log.debug({ namespace, configMap: d.configMapName }, 'trust bundle published');
    } catch (e) {
      await this.publishFailed(binding, namespace, d, e);
    }
    return true;
  }

  /** A ConfigMap of that name exists and is not this binding's: a Warning Event, and it is left alone. */
  private async foreign(binding: BindingModel, namespace: string, d: Publish): Promise<boolean> {
    const current = await this.read(namespace, d.configMapName);
    if (!current || TrustBundles.bindingOf(current) === binding.metadata.name) return false;
    const owner = current.metadata?.labels?.[TRUST_BUNDLE_LABEL]
      ? `trust bundle of binding ${TrustBundles.bindingOf(current)}`
      : 'not created by this operator';
    await recordEvent(
      this.ctx,
      involved(binding),
      'Warning',
      BindingReason.TrustBundleConflict,
      `ConfigMap ${namespace}/${d.configMapName} exists and is ${owner}; left untouched. Rename spec.trustBundle.configMapName or delete that ConfigMap.`,
    );
    return true;
  }

  /** A namespace gone or terminating is fine, a missing grant is a Warning Event; anything else is retried. */
  private async publishFailed(binding: BindingModel, namespace: string, d: Publish, e: unknown): Promise<void> {
    const k = toKubeError(e);
    if (k.code === 404 || (k.code === 403 && namespaceTerminating(k))) return; // namespace gone or terminating
    if (k.code !== 403)
      throw new Error(`apply trust bundle ConfigMap ${namespace}/${d.configMapName} failed: ${k.message}`, {
        cause: e,
      });
    // not granted (the chart's rbac.trustBundleConfigMaps): say so where the security team looks
    await recordEvent(
      this.ctx,
      involved(binding),
      'Warning',
      BindingReason.TrustBundleForbidden,
      `the operator may not write ConfigMap ${namespace}/${d.configMapName} (${k.message}): grant it with the chart value rbac.trustBundleConfigMaps ` +
        `(scope cluster, or namespaces including ${namespace}), or narrow the binding's namespaceSelector`,
    );
  }

  private async read(namespace: string, name: string): Promise<k8s.V1ConfigMap | undefined> {
    try {
      return await this.core.readNamespacedConfigMap({ namespace, name });
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new Error(`read ConfigMap ${namespace}/${name} failed`, { cause: e });
    }
  }

  private async remove(cm: k8s.V1ConfigMap, log: Logger): Promise<void> {
    const { namespace, name, uid } = cm.metadata ?? {};
    try {
      await this.core.deleteNamespacedConfigMap({
        namespace: namespace ?? '',
        name: name ?? '',
        body: { preconditions: { uid } },
      });
      log.debug({ namespace, configMap: name }, 'trust bundle removed');
    } catch (e) {
      const k = toKubeError(e);
      if (k.code === 404 || k.code === 409) return; // gone, or replaced by another object
      throw new Error(`delete trust bundle ConfigMap ${namespace}/${name} failed`, { cause: e });
    }
  }
}

/** The NamespaceLifecycle admission's 403 for a namespace being deleted (not an RBAC denial). */
function namespaceTerminating(k: ReturnType<typeof toKubeError>): boolean {
  return k.causes.some((c) => c.reason === 'NamespaceTerminating') || /being terminated/.test(k.message);
}

function upToDate(cm: k8s.V1ConfigMap, d: Publish, binding: string): boolean {
  const data = cm.data ?? {};
  return data[d.key] === d.bundlePem && cm.metadata?.annotations?.[BINDING_ANNOTATION] === binding;
}

/** One of ours that should not be there (any, when nothing is published; else another namespace or name). */
function stale(cm: k8s.V1ConfigMap, want: ReadonlySet<string>, d: Desired): boolean {
  return d.kind !== 'publish' || !want.has(cm.metadata?.namespace ?? '') || cm.metadata?.name !== d.configMapName;
}

/** The ConfigMap of the binding's trust bundle in `namespace`, owned by the binding (gone with it). */
function bundleConfigMap(binding: BindingModel, namespace: string, d: Publish): k8s.V1ConfigMap {
  const name = binding.metadata.name;
  const uid = binding.metadata?.uid;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: d.configMapName,
      namespace,
      labels: { [TRUST_BUNDLE_LABEL]: labelValue(name) },
      annotations: { [BINDING_ANNOTATION]: name },
      ...(uid
        ? {
            ownerReferences: [
              { apiVersion: 'machineidentity.io/v1alpha1', kind: 'CertificateAuthorityBinding', name, uid },
            ],
          }
        : {}),
    },
    data: { [d.key]: d.bundlePem },
  };
}

export function involved(b: BindingModel): {
  apiVersion: string;
  kind: string;
  name: string;
  uid?: string | undefined;
} {
  return {
    apiVersion: 'machineidentity.io/v1alpha1',
    kind: 'CertificateAuthorityBinding',
    name: b.metadata.name,
    uid: b.metadata?.uid,
  };
}
