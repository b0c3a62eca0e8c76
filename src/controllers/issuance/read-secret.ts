// A live read of one Secret, for what the projected cache does not hold: whether an unlabelled Secret
// exists (someone else's), and the bytes of a key or certificate when they are needed.
import type * as k8s from '@kubernetes/client-node';
import { getJsonOrNotFound } from '../../runtime/kube.ts';
import type { OperatorContext } from '../context.ts';

export async function readSecret(
  ctx: OperatorContext,
  namespace: string,
  name: string,
): Promise<k8s.V1Secret | undefined> {
  // resourceVersion=0: served from the apiserver's watch cache, not a quorum read from etcd. The window in
  // which a just-created foreign Secret could be missed is the same race a quorum read has (create between
  // this read and our apply), only milliseconds wider.
  return getJsonOrNotFound<k8s.V1Secret>(
    ctx.kc,
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
    { resourceVersion: '0' },
  );
}
