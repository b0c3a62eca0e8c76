// The one write of an issued Secret: a create when there was none, else an apply conditional on the
// version read, so that a Secret someone else created or changed meanwhile is never overwritten.
import * as k8s from '@kubernetes/client-node';
import { Reason } from '../../crds/reasons.ts';
import { sendJson } from '../../runtime/kube.ts';
import { FIELD_MANAGER } from './status.ts';

/** Why the Secret was not written: an attempt that failed (IssueOutcome kind failed). */
export interface WriteRefused {
  kind: 'failed';
  reason: string;
  message: string;
  retryAfterMs?: number;
}

/** The Secret written, or why it was not: a Secret that appeared or changed meanwhile (409), RBAC that refuses the namespace (403). */
export async function writeOrRefuse(
  kc: k8s.KubeConfig,
  body: k8s.V1Secret,
  i: { namespace: string; secretName: string; secretResourceVersion?: string },
): Promise<{ secret: k8s.V1Secret } | { refused: WriteRefused }> {
  try {
    return { secret: await writeSecret(kc, body, i.secretResourceVersion) };
  } catch (e) {
    // the HTTP status of the API's answer (client-node's ApiException carries it as `code`)
    const code = e instanceof Error && 'code' in e ? e.code : undefined;
    if (code === 403) {
      // the chart's rbac.secrets does not cover this namespace: say so instead of a generic failure (backoff limits re-signing)
      return {
        refused: {
          kind: 'failed',
          reason: Reason.SecretForbidden,
          message: `the operator may not write Secrets in namespace ${JSON.stringify(i.namespace)}: add it to the chart's rbac.secrets.namespaces (or use rbac.secrets.scope: cluster)`,
        },
      };
    }
    if (code !== 409) throw e;
    return {
      refused: {
        kind: 'failed',
        reason: Reason.SecretConflict,
        retryAfterMs: 1000,
        message: `Secret ${JSON.stringify(i.secretName)} was ${i.secretResourceVersion ? 'changed' : 'created'} by someone else while this certificate was issued; it was left as it is and is looked at again`,
      },
    };
  }
}

/**
 * Create when there was no Secret; otherwise a forced apply that fails (409) if the Secret is not the version we read.
 * Plain JSON both ways (sendJson): the answer is the API server's Secret, read for its metadata and data as is.
 */
export async function writeSecret(
  kc: k8s.KubeConfig,
  body: k8s.V1Secret,
  resourceVersion: string | undefined,
): Promise<k8s.V1Secret> {
  const ns = encodeURIComponent(body.metadata?.namespace ?? '');
  if (resourceVersion === undefined)
    return sendJson<k8s.V1Secret>(
      kc,
      'POST',
      `/api/v1/namespaces/${ns}/secrets`,
      { fieldManager: FIELD_MANAGER },
      body,
    );
  const name = encodeURIComponent(body.metadata?.name ?? '');
  return sendJson<k8s.V1Secret>(
    kc,
    'PATCH',
    `/api/v1/namespaces/${ns}/secrets/${name}`,
    { fieldManager: FIELD_MANAGER, force: true },
    { ...body, metadata: { ...body.metadata, resourceVersion } },
    k8s.PatchStrategy.ServerSideApply,
  );
}
