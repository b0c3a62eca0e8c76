// What the live Secret holds, parsed once per resourceVersion (parsing is the hot part of a resync).
import type { KeyObject } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { parseCertificate, splitPem, type CertFacts } from '../../issuers/crypto/certs.ts';
import { parsePrivateKey, samePublicKey } from '../../issuers/crypto/keys.ts';

export interface SecretView {
  hasData: boolean;
  leaf?: CertFacts;
  key?: KeyObject;
  keyMatches: boolean;
}

const cache = new Map<string, { rv: string; view: SecretView }>();

export function inspectSecret(secret: k8s.V1Secret): SecretView {
  const id = secret.metadata?.uid ?? '';
  const rv = secret.metadata?.resourceVersion ?? '';
  const hit = cache.get(id);
  if (hit && hit.rv === rv) return hit.view;
  const view = parse(secret);
  cache.set(id, { rv, view });
  return view;
}

export function forgetSecret(uid: string | undefined): void {
  if (uid) cache.delete(uid);
}

function parse(secret: k8s.V1Secret): SecretView {
  const crt = secret.data?.['tls.crt'], key = secret.data?.['tls.key'];
  if (!crt || !key) return { hasData: false, keyMatches: false };
  let leaf: CertFacts | undefined, priv: KeyObject | undefined;
  try { leaf = parseCertificate(splitPem(Buffer.from(crt, 'base64').toString('utf8'))[0] ?? ''); } catch { leaf = undefined; }
  try { priv = parsePrivateKey(Buffer.from(key, 'base64').toString('utf8')); } catch { priv = undefined; }
  return { hasData: true, leaf, key: priv, keyMatches: Boolean(leaf && priv && samePublicKey(leaf.publicKey, priv)) };
}
