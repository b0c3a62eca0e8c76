// The PodCertificateRequest API as the signer uses it: the request's shape, the pod it names (read
// with as few etcd round trips as possible) and the one status update that answers it.
import type * as k8s from '@kubernetes/client-node';
import { getJsonOrNotFound, sendRaw } from '../../runtime/kube.ts';
import { SignerReason } from '../../crds/reasons.ts';
import { isoSeconds } from '../../issuers/in-cluster-ca.ts';
import type { OperatorContext } from '../context.ts';
import { condition } from './common.ts';
import { podMismatch } from './boundaries.ts';
import type { PcrSpec } from './pod-certificate.ts';
import { certificatesPath, type CertificatesVersion } from './certificates-api.ts';

export interface Pcr extends k8s.KubernetesObject {
  spec?: PcrSpec;
  status?: { conditions?: { type: string; status: string }[] };
}
export type Answer =
  | { kind: 'Issued'; chainPem: string; notBefore: Date; notAfter: Date; beginRefreshAt: Date; message: string }
  | { kind: 'Denied' | 'Failed'; reason: string; message: string };

/** A stored request always has both. */
export const refOf = (p: Pcr): { namespace: string; name: string } => ({
  namespace: p.metadata?.namespace ?? '',
  name: p.metadata?.name ?? '',
});
/** Answered: Issued, Denied or Failed. */
export const terminal = (p: Pcr): boolean =>
  (p.status?.conditions ?? []).some((c) => ['Issued', 'Denied', 'Failed'].includes(c.type) && c.status === 'True');

/**
 * The pod the request names, read from the API server's watch cache (resourceVersion 0: no etcd
 * round trip per request); when that copy does not match (a pod recreated under the same name a
 * moment ago), once more from etcd before the request is denied.
 */
export async function readPod(kc: k8s.KubeConfig, ns: string, spec: PcrSpec): Promise<k8s.V1Pod | undefined> {
  const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(spec.podName)}`;
  const cached = await getJsonOrNotFound<k8s.V1Pod>(kc, path, { resourceVersion: '0' });
  if (!podMismatch(ns, spec, cached)) return cached;
  return getJsonOrNotFound<k8s.V1Pod>(kc, path, {});
}

/**
 * One status update carrying the whole answer, at `version` (the one the request was read at, so the
 * body's apiVersion matches the path); the resourceVersion makes a second writer lose, not overwrite.
 */
export async function writePcrStatus(
  ctx: Pick<OperatorContext, 'kc' | 'log' | 'now'>,
  version: CertificatesVersion,
  pcr: Pcr,
  a: Answer,
): Promise<'ok' | 'conflict' | 'gone' | 'rejected'> {
  const now = ctx.now();
  const status =
    a.kind === 'Issued'
      ? {
          conditions: [condition('Issued', SignerReason.Issued, a.message, now)],
          certificateChain: a.chainPem,
          notBefore: isoSeconds(a.notBefore),
          notAfter: isoSeconds(a.notAfter),
          beginRefreshAt: isoSeconds(a.beginRefreshAt),
        }
      : { conditions: [condition(a.kind, a.reason, a.message, now)] };
  const body = { ...pcr, apiVersion: `certificates.k8s.io/${version}`, status };
  const { namespace, name } = refOf(pcr);
  const path = `${certificatesPath(version, 'podcertificaterequests', namespace)}/${encodeURIComponent(name)}/status`;
  const res = await sendRaw(ctx.kc, 'PUT', path, JSON.stringify(body), 'application/json');
  if (res.status >= 200 && res.status < 300) return 'ok';
  if (res.status === 409) return 'conflict';
  if (res.status === 404) return 'gone';
  ctx.log.error(
    { namespace: pcr.metadata?.namespace, name: pcr.metadata?.name, status: res.status, body: res.text.slice(0, 1000) },
    'PodCertificateRequest status rejected',
  );
  if (a.kind === 'Issued' && res.status === 422) {
    // the API server's validation is the last word: tell the kubelet instead of leaving it waiting
    const failed = await writePcrStatus(ctx, version, pcr, {
      kind: 'Failed',
      reason: SignerReason.InvalidCertificate,
      message: `the API server rejected the issued certificate: ${res.text.slice(0, 500)}`,
    });
    return failed === 'ok' ? 'rejected' : failed;
  }
  throw new Error(`PodCertificateRequest status update: HTTP ${res.status}`);
}
