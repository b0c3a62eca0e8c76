// The key an issuance certifies: the one the Secret holds (rotationPolicy Never), a new one stored
// durably first (a CA outside this process answers later: the key must survive a restart), or a new one.
import type { KeyObject } from 'node:crypto';
import type { IssuableSpec, MachineIdentityModel, MachineIdentitySpec } from '../../crds/index.ts';
import { certificateMatchesKey } from '../../pki/certs.ts';
import { generateKey, keyMatchesSpec } from '../../pki/keys.ts';
import type { OperatorContext } from '../context.ts';
import { crashPoint } from './fault.ts';
import type { SecretView } from './inspect.ts';
import { durableKey } from './next-key.ts';
import { readSecret } from './read-secret.ts';

export interface KeyRequest {
  mi: MachineIdentityModel;
  spec: IssuableSpec;
  current?: SecretView;
  revision: number;
  durableKeys: boolean;
  /** The CA signs in this process (no durable key needed unless asked). */
  inProcess: boolean;
}

/** The key to certify: the Secret's own (rotationPolicy Never), a durable new one (CAs outside this process), or a new one. */
export async function keyFor(ctx: OperatorContext, i: KeyRequest): Promise<{ key: KeyObject; reused: boolean }> {
  const pk = i.spec.privateKey;
  const keySpec = { algorithm: pk.algorithm, size: pk.size };
  const reuse =
    pk.rotationPolicy === 'Never' && i.current?.keyMatches
      ? await currentKey(ctx, i.mi, i.spec.secretName, keySpec)
      : undefined;
  if (reuse) return { key: reuse, reused: true };
  const fresh = (): Promise<KeyObject> => generateKey(keySpec);
  if (!i.durableKeys && i.inProcess) return { key: await fresh(), reused: false };
  const key = await durableKey(ctx, i.mi, i.revision, fresh);
  crashPoint('after-key-stored');
  return { key, reused: false };
}

/** rotationPolicy Never: the key the Secret holds now, read from the API (the cache keeps no key) and parsed in the pool. */
async function currentKey(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  secretName: string,
  keySpec: { algorithm: MachineIdentitySpec['privateKey']['algorithm']; size?: number | undefined },
): Promise<KeyObject | undefined> {
  const live = await readSecret(ctx, mi.metadata.namespace, secretName);
  const b64 = live?.data?.['tls.key'],
    crt = live?.data?.['tls.crt'];
  if (!b64 || !crt) return undefined;
  const key = await ctx.parser.privateKey(b64).catch(() => undefined);
  if (!key || !keyMatchesSpec(key, keySpec)) return undefined;
  // the Secret may have changed since it was inspected: the key must still be tls.crt's
  const leafPem = Buffer.from(crt, 'base64').toString('utf8');
  try {
    return certificateMatchesKey(leafPem, key) ? key : undefined;
  } catch {
    return undefined;
  }
}
