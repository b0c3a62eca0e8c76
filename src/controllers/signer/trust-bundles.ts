// Reconciler: one ClusterTrustBundle per signer binding (`machineidentity.io:<binding>:ca`, linked to
// signerName machineidentity.io/<binding>), holding the CA the signer issues from, so pods can project
// the trust anchors with a clusterTrustBundle volume source. Removed when the binding stops signing.
// Written at the version discovery prefers (certificates-api.ts: v1 on 1.37, v1beta1 on 1.33-1.36
// with the gate); an apply answered 404 asks discovery again and retries at what it says then.
import { Controller } from '../../runtime/reconcile-loop.ts';
import { sendRaw } from '../../runtime/kube.ts';
import type { OperatorContext } from '../context.ts';
import { validBinding } from '../binding-specs.ts';
import { isSigner } from './common.ts';
import { SIGNER_PREFIX } from './pod-certificate.ts';
import { certificatesApi, certificatesPath, type CertificatesVersion } from './certificates-api.ts';
import { reportServed } from './served-report.ts';

const bundleName = (binding: string): string => `machineidentity.io:${binding}:ca`;

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
  const c = new Controller({
    name: 'signer-trust-bundles',
    logger: ctx.log,
    registry: ctx.registry,
    workers: 1,
    informers: [ctx.informers.bindings],
    reconcile: (binding) => syncTrustBundle(ctx, binding),
  });
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

/** The binding's ClusterTrustBundle: applied while it signs and its issuer is loaded, deleted when it stops signing. */
async function syncTrustBundle(ctx: OperatorContext, binding: string): Promise<{ requeueAfterMs: number } | undefined> {
  const version = await certificatesApi(ctx.kc).version('clustertrustbundles');
  if (!version) return { requeueAfterMs: 60_000 }; // no longer served: look again later
  const path = `${certificatesPath(version, 'clustertrustbundles')}/${encodeURIComponent(bundleName(binding))}`;
  if (!isSigner(validBinding(ctx, binding)?.spec.signer)) {
    const res = await sendRaw(ctx.kc, 'DELETE', path, '', 'application/json').catch(() => undefined);
    if (res && res.status >= 500) throw new Error(`delete ClusterTrustBundle: HTTP ${res.status}`);
    return undefined;
  }
  // the binding's published bundle: during a CA change it carries the previous CAs too
  const entry = ctx.issuers.get(binding);
  const pem = entry?.trustBundlePem ?? entry?.health.caBundlePem;
  if (!pem) return { requeueAfterMs: 5000 };
  return applyTrustBundle(ctx, version, path, clusterTrustBundle(version, binding, pem));
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

function clusterTrustBundle(version: CertificatesVersion, binding: string, pem: string): object {
  return {
    apiVersion: `certificates.k8s.io/${version}`,
    kind: 'ClusterTrustBundle',
    metadata: {
      name: bundleName(binding),
      labels: { 'app.kubernetes.io/managed-by': 'machine-identity-operator', 'machineidentity.io/binding': binding },
    },
    spec: { signerName: `${SIGNER_PREFIX}${binding}`, trustBundle: pem },
  };
}
