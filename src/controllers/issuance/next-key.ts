// Durable keys for CAs outside this process: before a CSR leaves the operator, its private key is
// stored in an owned, labelled Secret `<identity>-mio-next-key-<revision>`. A restart finds it and
// reuses the key, so an issued certificate never loses its key. Deleted once the identity's Secret
// and status hold the new revision.
import type { MachineIdentityModel } from '../../crds/index.ts';
import type { KeyObject } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { encodePrivateKey } from '../../pki/keys.ts';
import { isAlreadyExists, isNotFound } from '../../runtime/kube.ts';
import { LABEL_IDENTITY } from './secret.ts';
import type { OperatorContext } from '../context.ts';

const LABEL_ROLE = 'machineidentity.io/role';
const ROLE_NEXT_KEY = 'next-key';

function nextKeyName(identity: string, revision: number): string {
  return `${identity}-mio-next-key-${revision}`.slice(0, 253);
}

/** The stored key for this revision, or `generate()`'s key after storing it. */
export async function durableKey(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  revision: number,
  generate: () => Promise<KeyObject>,
): Promise<KeyObject> {
  const ns = mi.metadata.namespace,
    name = nextKeyName(mi.metadata.name, revision);
  const core = ctx.kc.makeApiClient(k8s.CoreV1Api);
  // the cache keeps no key bytes: it only tells whether a read is worth it
  const existing = await readOrUndefined(core, ns, name);
  const stored = existing?.data?.['tls.key'];
  if (stored) return ctx.parser.privateKey(stored);
  const key = await generate();
  try {
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: {
          name,
          labels: { [LABEL_IDENTITY]: mi.metadata.name, [LABEL_ROLE]: ROLE_NEXT_KEY },
          annotations: { 'machineidentity.io/revision': String(revision) },
          ownerReferences: [
            {
              apiVersion: 'machineidentity.io/v1alpha1',
              kind: 'MachineIdentity',
              name: mi.metadata.name,
              uid: mi.metadata.uid,
              controller: true,
              blockOwnerDeletion: false,
            },
          ],
        },
        type: 'Opaque',
        data: { 'tls.key': Buffer.from(encodePrivateKey(key, 'PKCS8')).toString('base64') },
      },
    });
    return key;
  } catch (e) {
    if (!isAlreadyExists(e)) throw new Error('storing the next private key failed', { cause: e });
    const raced = await readOrUndefined(core, ns, name); // another attempt stored one first: use that one
    const b64 = raced?.data?.['tls.key'];
    if (b64 === undefined)
      throw new Error('storing the next private key failed: it exists but holds no tls.key', { cause: e });
    return ctx.parser.privateKey(b64);
  }
}

/** Stored next keys by `namespace/identity`, kept from the Secret informer's events (no list scans on the hot path). */
export class NextKeyIndex {
  private readonly byIdentity = new Map<string, Set<string>>();
  private static key(s: k8s.V1Secret): string | undefined {
    const l = s.metadata?.labels;
    return l?.[LABEL_ROLE] === ROLE_NEXT_KEY && l[LABEL_IDENTITY]
      ? `${s.metadata?.namespace}/${l[LABEL_IDENTITY]}`
      : undefined;
  }
  add(s: k8s.V1Secret): void {
    const k = NextKeyIndex.key(s);
    const name = s.metadata?.name;
    if (!k || !name) return;
    let set = this.byIdentity.get(k);
    if (!set) this.byIdentity.set(k, (set = new Set()));
    set.add(name);
  }
  remove(s: k8s.V1Secret): void {
    const k = NextKeyIndex.key(s);
    const set = k ? this.byIdentity.get(k) : undefined;
    if (!k || !set) return;
    set.delete(s.metadata?.name ?? '');
    if (set.size === 0) this.byIdentity.delete(k);
  }
  names(namespace: string, identity: string): string[] {
    return [...(this.byIdentity.get(`${namespace}/${identity}`) ?? [])];
  }
}

/** Deletes every stored next key of this identity (after success, or when none is in flight). */
export async function cleanupNextKeys(
  ctx: OperatorContext,
  index: NextKeyIndex,
  mi: MachineIdentityModel,
): Promise<number> {
  const ns = mi.metadata.namespace;
  const stale = index.names(ns, mi.metadata.name);
  if (stale.length === 0) return 0;
  const core = ctx.kc.makeApiClient(k8s.CoreV1Api);
  for (const name of stale) {
    try {
      await core.deleteNamespacedSecret({ name, namespace: ns });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return stale.length;
}

async function readOrUndefined(
  core: k8s.CoreV1Api,
  namespace: string,
  name: string,
): Promise<k8s.V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ name, namespace });
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}
