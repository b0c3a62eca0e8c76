// Keeps the caBundle of the operator's ValidatingWebhookConfiguration equal to the webhook CA. The
// chart ships the configuration without one (Helm would otherwise reset it on every upgrade).
import type * as k8s from '@kubernetes/client-node';
import { getJsonOrNotFound, sendRaw } from '../runtime/kube.ts';

type Vwc = k8s.V1ValidatingWebhookConfiguration;

/** JSON patch ops that set every webhook's caBundle to `caPem`; empty when all already match. */
export function caBundlePatch(vwc: Vwc, caPem: string): object[] {
  const want = Buffer.from(caPem).toString('base64');
  const ops: object[] = [];
  (vwc.webhooks ?? []).forEach((w, i) => {
    if (w.clientConfig?.caBundle === want) return;
    ops.push({
      op: w.clientConfig?.caBundle === undefined ? 'add' : 'replace',
      path: `/webhooks/${i}/clientConfig/caBundle`,
      value: want,
    });
  });
  return ops.length
    ? [{ op: 'test', path: '/metadata/resourceVersion', value: vwc.metadata?.resourceVersion }, ...ops]
    : [];
}

/** Returns whether it patched; a missing configuration is not an error (the webhook may be disabled in the chart). */
export async function injectCaBundle(kc: k8s.KubeConfig, name: string, caPem: string): Promise<boolean> {
  const path = `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${encodeURIComponent(name)}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    const vwc = await getJsonOrNotFound<Vwc>(kc, path, {});
    if (!vwc) return false;
    const ops = caBundlePatch(vwc, caPem);
    if (ops.length === 0) return false;
    const res = await sendRaw(kc, 'PATCH', path, JSON.stringify(ops), 'application/json-patch+json');
    if (res.status >= 200 && res.status < 300) return true;
    // a failed test op (someone else wrote in between) is 422; a conflict 409: re-read and retry
    if (res.status !== 409 && res.status !== 422)
      throw new Error(`patch ValidatingWebhookConfiguration ${name}: HTTP ${res.status}: ${res.text.slice(0, 500)}`);
  }
  return false;
}
