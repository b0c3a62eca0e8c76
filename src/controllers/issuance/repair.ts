// Drift without a reason to reissue (labels, annotations, owner reference, key encoding, keystores): the
// Secret is re-applied from what it already holds, with the same key and certificate.
import type { KeyObject } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { DEFAULT_DURATION, type MachineIdentitySpec } from '../../crds/index.ts';
import { encodePrivateKey } from '../../issuers/crypto/keys.ts';
import { splitPem } from '../../issuers/crypto/certs.ts';
import { buildKeystore, buildTruststore } from '../../issuers/crypto/pkcs12.ts';
import { applyNamespaced } from '../runtime/kube.ts';
import { desiredSecret, metadataDrift, ANN, type readRecord } from './secret.ts';
import { FIELD_MANAGER } from './status.ts';
import { readSecret } from './controller.ts';
import type { SecretView } from './inspect.ts';
import type { OperatorContext, MachineIdentityObject } from '../context.ts';

/** Labels, annotations, owner reference, key encoding or keystores drifted while the certificate is fine: re-apply, no reissue. */
export async function repairMetadata(ctx: OperatorContext, mi: MachineIdentityObject, spec: MachineIdentitySpec, authority: string,
  secret: k8s.V1Secret, view: SecretView, revision: number, record: ReturnType<typeof readRecord>, log: { debug: (o: object, m: string) => void },
  trustBundlePem?: string): Promise<void> {
  const pems = splitPem(Buffer.from(secret.data!['tls.crt']!, 'base64').toString('utf8'));
  // the binding's published bundle when it keeps one: ca.crt follows a CA change (old and new) before the reissue, and the old CA's retirement after
  const caPem = trustBundlePem ?? Buffer.from(secret.data?.['ca.crt'] ?? '', 'base64').toString('utf8');
  const leaf = view.leaf!;
  const base = {
    identity: { name: mi.metadata!.name!, namespace: mi.metadata!.namespace!, uid: mi.metadata!.uid! }, secretName: spec.secretName,
    deletionPolicy: spec.deletionPolicy, template: spec.secretTemplate, ownerTeam: spec.owner?.team,
    keyPem: '', keyEncoding: spec.privateKey.encoding, leafPem: pems[0]!, chainPem: pems.slice(1), caPem,
    serialNumber: leaf.serialNumber, notAfter: leaf.notAfter, issuerDN: leaf.issuerDN, revision,
    authority: record.authority ?? authority, authorityFingerprint: record.authorityFingerprint ?? '', requestedDuration: record.requestedDuration ?? spec.duration ?? DEFAULT_DURATION,
    issuedAt: record.issuedAt ?? leaf.notBefore,
  };
  const probe = desiredSecret({ ...base, ...(spec.keystores?.pkcs12 ? { keystore: Buffer.alloc(1), truststore: Buffer.alloc(1) } : {}) });
  const drift = metadataDrift(secret, probe) ?? (secret.metadata?.annotations?.[ANN.keyEncoding] !== spec.privateKey.encoding ? 'key encoding' : undefined);
  if (!drift) return;
  const stores = spec.keystores?.pkcs12 ? await rebuildKeystores(ctx, mi, spec, view.key!, pems, caPem) : {};
  // the key is encoded only when something must be written (this runs on every resync)
  await applyNamespaced(ctx.kc, desiredSecret({ ...base, keyPem: encodePrivateKey(view.key!, spec.privateKey.encoding), ...stores }), FIELD_MANAGER);
  log.debug({ drift }, 'Secret re-applied (no reissue)');
}

async function rebuildKeystores(ctx: OperatorContext, mi: MachineIdentityObject, spec: MachineIdentitySpec, key: KeyObject, pems: string[], caPem: string): Promise<{ keystore?: Buffer; truststore?: Buffer }> {
  const ref = spec.keystores!.pkcs12!.passwordSecretRef;
  const s = await readSecret(ctx, mi.metadata!.namespace!, ref.name);
  const pw = s?.data?.[ref.key];
  if (pw === undefined) return {};
  const password = Buffer.from(pw, 'base64').toString('utf8');
  return { keystore: buildKeystore({ key, certificatePem: pems[0]!, chainPem: pems.slice(1), password, friendlyName: mi.metadata!.name! }),
    truststore: buildTruststore({ caPems: [caPem], password }) };
}
