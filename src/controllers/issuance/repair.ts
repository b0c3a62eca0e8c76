// Drift without a reason to reissue (labels, annotations, owner reference, key encoding, keystores): the
// Secret is re-applied from what it already holds, with the same key and certificate.
import type { LeafFacts } from './inspect.ts';
import type { MachineIdentityModel } from '../../crds/index.ts';
import type { KeyObject } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { IssuableSpec } from '../../crds/index.ts';
import { encodePrivateKey } from '../../pki/keys.ts';
import { splitPem } from '../../pki/certs.ts';
import { buildKeystore, buildTruststore } from '../../pki/pkcs12.ts';
import { applyNamespaced } from '../../runtime/kube.ts';
import { desiredSecret, metadataDrift, ANN, type readRecord } from './secret.ts';
import { FIELD_MANAGER } from './status.ts';
import { readSecret } from './read-secret.ts';
import type { OperatorContext } from '../context.ts';

/** Labels, annotations, owner reference, key encoding or keystores drifted while the certificate is fine: re-apply, no reissue. */
export async function repairMetadata(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  spec: IssuableSpec,
  authority: string,
  cached: k8s.V1Secret,
  leaf: LeafFacts,
  revision: number,
  record: ReturnType<typeof readRecord>,
  log: { debug: (o: object, m: string) => void },
  trustBundlePem?: string,
): Promise<void> {
  // the cache keeps digests, not data: a first look at what can be told from them, the bytes only when something drifted
  // (ca.crt can be compared when the binding publishes a bundle: it is then exactly that bundle)
  if (!driftOf(cached, spec, leaf, revision, record, authority, mi, undefined, trustBundlePem)) return;
  const secret = await readSecret(ctx, mi.metadata.namespace, spec.secretName);
  if (!secret?.data?.['tls.crt'] || !secret.data['tls.key']) return; // gone or emptied: the next reconcile reissues
  const key = await ctx.parser.privateKey(secret.data['tls.key']).catch(() => undefined);
  if (!key) return;
  const pems = splitPem(Buffer.from(secret.data['tls.crt'], 'base64').toString('utf8'));
  // the binding's published bundle when it keeps one: ca.crt follows a CA change (old and new) before the reissue, and the old CA's retirement after
  const caPem = trustBundlePem ?? Buffer.from(secret.data['ca.crt'] ?? '', 'base64').toString('utf8');
  const base = baseOf(mi, spec, authority, leaf, revision, record, pems, caPem);
  const drift = driftOf(secret, spec, leaf, revision, record, authority, mi, pems, caPem);
  if (!drift) return;
  const pkcs12 = spec.keystores?.pkcs12;
  const stores = pkcs12 ? await rebuildKeystores(ctx, mi, pkcs12.passwordSecretRef, key, pems, caPem) : {};
  // the key is encoded only when something must be written (this runs on every resync)
  await applyNamespaced(
    ctx.kc,
    desiredSecret({ ...base, keyPem: encodePrivateKey(key, spec.privateKey.encoding), ...stores }),
    FIELD_MANAGER,
  );
  log.debug({ drift }, 'Secret re-applied (no reissue)');
}

/** What we would write, less the key. Without the bytes (a projection), the certificates are placeholders and ca.crt is not compared. */
function baseOf(
  mi: MachineIdentityModel,
  spec: IssuableSpec,
  authority: string,
  leaf: LeafFacts,
  revision: number,
  record: ReturnType<typeof readRecord>,
  pems: string[],
  caPem: string,
): Parameters<typeof desiredSecret>[0] {
  return {
    identity: { name: mi.metadata.name, namespace: mi.metadata.namespace, uid: mi.metadata.uid },
    secretName: spec.secretName,
    deletionPolicy: spec.deletionPolicy,
    template: spec.secretTemplate,
    ownerTeam: spec.owner?.team,
    keyEncoding: spec.privateKey.encoding,
    leafPem: pems[0] ?? '',
    chainPem: pems.slice(1),
    caPem,
    serialNumber: leaf.serialNumber,
    notAfter: leaf.notAfter,
    issuerDN: leaf.issuerDN,
    revision,
    authority: record.authority ?? authority,
    authorityFingerprint: record.authorityFingerprint ?? '',
    requestedDuration: record.requestedDuration ?? spec.duration,
    issuedAt: record.issuedAt ?? leaf.notBefore,
    keyPem: '',
  };
}

function driftOf(
  secret: k8s.V1Secret,
  spec: IssuableSpec,
  leaf: LeafFacts,
  revision: number,
  record: ReturnType<typeof readRecord>,
  authority: string,
  mi: MachineIdentityModel,
  pems?: string[],
  caPem?: string,
): string | undefined {
  const base = baseOf(mi, spec, authority, leaf, revision, record, pems ?? [''], caPem ?? '');
  const probe = desiredSecret({
    ...base,
    ...(spec.keystores?.pkcs12 ? { keystore: Buffer.alloc(1), truststore: Buffer.alloc(1) } : {}),
  });
  return (
    metadataDrift(secret, probe, { compareCa: caPem !== undefined }) ??
    (secret.metadata?.annotations?.[ANN.keyEncoding] !== spec.privateKey.encoding ? 'key encoding' : undefined)
  );
}

async function rebuildKeystores(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  ref: { name: string; key: string },
  key: KeyObject,
  pems: string[],
  caPem: string,
): Promise<{ keystore?: Buffer; truststore?: Buffer }> {
  const [leafPem, ...chainPem] = pems;
  // the caller read a non-empty tls.crt: no certificate in it is a Secret torn under us, retried by the next reconcile
  if (leafPem === undefined) throw new Error('tls.crt holds no certificate');
  const s = await readSecret(ctx, mi.metadata.namespace, ref.name);
  const pw = s?.data?.[ref.key];
  if (pw === undefined) return {};
  const password = Buffer.from(pw, 'base64').toString('utf8');
  return {
    keystore: buildKeystore({ key, certificatePem: leafPem, chainPem, password, friendlyName: mi.metadata.name }),
    truststore: buildTruststore({ caPems: [caPem], password }),
  };
}
