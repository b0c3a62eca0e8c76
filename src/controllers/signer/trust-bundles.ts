// Reconciler: one ClusterTrustBundle per signer binding (`machineidentity.io:<binding>:ca`, linked to
// signerName machineidentity.io/<binding>), holding the CA the signer issues from, so pods can project
// the trust anchors with a clusterTrustBundle volume source. Removed when the binding stops signing.
// Written at the version discovery prefers (certificates-api.ts: v1 on 1.37, v1beta1 on 1.33-1.36
// with the gate); an apply answered 404 asks discovery again and retries at what it says then.
//
// Read before written (trust-bundle-decision.ts): a GET per reconcile, and an apply or delete only
// when the bundle differs from what the binding wants, so a restart with nothing changed makes no
// write (issue #17). A bundle whose binding was deleted while no operator ran has no binding left to
// enqueue it: one LIST of our bundles at start finds those, and their reconcile deletes them.
import { Controller, type Syncable } from '../../runtime/reconcile-loop.ts';
import { getJson, getJsonOrNotFound, sendRaw } from '../../runtime/kube.ts';
import type { OperatorContext } from '../context.ts';
import { validBinding } from '../binding-specs.ts';
import { isSigner } from './common.ts';
import { SIGNER_PREFIX } from './pod-certificate.ts';
import { certificatesApi, certificatesPath, type CertificatesVersion } from './certificates-api.ts';
import { reportServed } from './served-report.ts';
import { bundleBinding, bundleName, trustBundleAction, type BundleFields } from './trust-bundle-decision.ts';

const LABELS = { 'app.kubernetes.io/managed-by': 'machine-identity-operator' } as const;
const BINDING_LABEL = 'machineidentity.io/binding';

interface BundleObject {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { signerName?: string; trustBundle?: string };
}

/** The binding's ClusterTrustBundle path at the served version; undefined when none is served (or discovery failed). */
export async function trustBundlePath(ctx: Pick<OperatorContext, 'kc'>, binding: string): Promise<string | undefined> {
  const v = await certificatesApi(ctx.kc)
    .version('clustertrustbundles')
    .catch(() => undefined);
  return v ? `${certificatesPath(v, 'clustertrustbundles')}/${encodeURIComponent(bundleName(binding))}` : undefined;
}

/** At start: whether to run the publisher; logged once and reported (machine_identity_signer_api_info) either way. */
export async function trustBundlesServed(ctx: Pick<OperatorContext, 'kc' | 'registry' | 'log'>): Promise<boolean> {
  const v = await certificatesApi(ctx.kc)
    .version('clustertrustbundles')
    .catch(() => undefined);
  reportServed(ctx, 'clustertrustbundles', v);
  return v !== undefined;
}

export function trustBundleController(ctx: OperatorContext): Controller {
  let swept!: () => void;
  const sweep: Syncable = { synced: new Promise<void>((r) => (swept = r)) };
  const c = new Controller({
    name: 'signer-trust-bundles',
    logger: ctx.log,
    registry: ctx.registry,
    workers: 1,
    informers: [ctx.informers.bindings, sweep],
    reconcile: (binding) => syncTrustBundle(ctx, binding),
  });
  void enqueueOurBundles(ctx, (b) => c.queue.add(b)).finally(swept);
  const enqueue = (b: { metadata?: { name?: string } }): void => {
    if (b.metadata?.name) c.queue.add(b.metadata.name);
  };
  ctx.informers.bindings
    .onAdd(enqueue)
    .onUpdate((_o, b) => enqueue(b))
    .onDelete(enqueue);
  ctx.issuers.onChange((b) => c.queue.add(b));
  return c;
}

/**
 * Every binding that has a bundle of ours, once at start: a binding deleted while no operator ran sends
 * no event, and its bundle would stay. Bundles are public (any user may list them) and few. A failed
 * LIST is logged and does not hold the controller back (a binding's own events still reconcile it).
 */
async function enqueueOurBundles(ctx: OperatorContext, enqueue: (binding: string) => void): Promise<void> {
  try {
    await ctx.informers.bindings.synced;
    const version = await certificatesApi(ctx.kc).version('clustertrustbundles');
    if (!version) return;
    const list = await getJson<{ items?: BundleObject[] }>(ctx.kc, certificatesPath(version, 'clustertrustbundles'), {
      labelSelector: BINDING_LABEL,
    });
    for (const b of list.items ?? []) {
      const binding = bundleBinding(b.metadata?.name, b.spec?.signerName);
      if (binding) enqueue(binding);
    }
  } catch (e) {
    ctx.log.warn(
      { err: (e as Error).message },
      'listing ClusterTrustBundles at start failed; bundles of bindings deleted meanwhile stay until their binding is seen',
    );
  }
}

/** The binding's ClusterTrustBundle: applied while it signs and its issuer is loaded, deleted when it stops signing; neither when it already is so. */
async function syncTrustBundle(ctx: OperatorContext, binding: string): Promise<{ requeueAfterMs: number } | undefined> {
  const version = await certificatesApi(ctx.kc).version('clustertrustbundles');
  if (!version) return { requeueAfterMs: 60_000 }; // no longer served: look again later
  const path = `${certificatesPath(version, 'clustertrustbundles')}/${encodeURIComponent(bundleName(binding))}`;
  const desired = desiredBundle(ctx, binding);
  if (desired === 'issuer not loaded') return { requeueAfterMs: 5000 };
  const action = trustBundleAction(desired, await currentBundle(ctx, path));
  if (action === 'delete') await deleteTrustBundle(ctx, path, binding);
  if (action !== 'apply' || !desired) return undefined;
  return applyTrustBundle(ctx, version, path, clusterTrustBundle(version, binding, desired));
}

/** What the bundle should hold; undefined when the binding does not sign (or is gone, or invalid). */
function desiredBundle(
  ctx: OperatorContext,
  binding: string,
): Required<BundleFields> | undefined | 'issuer not loaded' {
  if (!isSigner(validBinding(ctx, binding)?.spec.signer)) return undefined;
  // the binding's published bundle: during a CA change it carries the previous CAs too
  const entry = ctx.issuers.get(binding);
  const pem = entry?.trustBundlePem ?? entry?.health.caBundlePem;
  return pem ? desiredFields(binding, pem) : 'issuer not loaded';
}

/**
 * The bundle as the API server has it; undefined when there is none. A cluster-scoped object only holders
 * of `attest` on our signer (or a cluster admin) can write, bounded in size by the API server: not tenant
 * bytes. A failed read throws (retried with backoff), so a stale bundle is never skipped for an error.
 */
async function currentBundle(ctx: OperatorContext, path: string): Promise<BundleFields | undefined> {
  const b = await getJsonOrNotFound<BundleObject>(ctx.kc, path, {});
  return b && { ...b.spec, labels: b.metadata?.labels ?? {} };
}

async function deleteTrustBundle(ctx: OperatorContext, path: string, binding: string): Promise<void> {
  const res = await sendRaw(ctx.kc, 'DELETE', path, '', 'application/json');
  if (res.status === 404) return; // gone meanwhile
  if (res.status < 200 || res.status >= 300)
    throw new Error(`delete ClusterTrustBundle: HTTP ${res.status}: ${res.text.slice(0, 300)}`);
  ctx.log.info({ binding }, 'ClusterTrustBundle deleted: the binding does not sign');
}

function desiredFields(binding: string, pem: string): Required<BundleFields> {
  return {
    signerName: `${SIGNER_PREFIX}${binding}`,
    trustBundle: pem,
    labels: { ...LABELS, [BINDING_LABEL]: binding },
  };
}

/** Server-side apply of the bundle; a 404 means the version is no longer served: discovery is asked again. */
async function applyTrustBundle(
  ctx: OperatorContext,
  version: CertificatesVersion,
  path: string,
  body: object,
): Promise<{ requeueAfterMs: number } | undefined> {
  const res = await sendRaw(
    ctx.kc,
    'PATCH',
    `${path}?fieldManager=mio-signer&force=true`,
    JSON.stringify(body),
    'application/apply-patch+yaml',
  );
  if (res.status === 404) {
    // an apply creates what is missing: a 404 is the version no longer being served (an upgrade)
    const now = (await certificatesApi(ctx.kc).refresh()).clustertrustbundles;
    reportServed(ctx, 'clustertrustbundles', now);
    ctx.log.warn({ was: version, now: now ?? 'none' }, 'ClusterTrustBundle apply answered 404; discovery asked again');
    return { requeueAfterMs: 1000 };
  }
  if (res.status < 200 || res.status >= 300)
    throw new Error(`apply ClusterTrustBundle at ${version}: HTTP ${res.status}: ${res.text.slice(0, 300)}`);
  return undefined;
}

function clusterTrustBundle(version: CertificatesVersion, binding: string, f: Required<BundleFields>): object {
  return {
    apiVersion: `certificates.k8s.io/${version}`,
    kind: 'ClusterTrustBundle',
    metadata: { name: bundleName(binding), labels: f.labels },
    spec: { signerName: f.signerName, trustBundle: f.trustBundle },
  };
}
