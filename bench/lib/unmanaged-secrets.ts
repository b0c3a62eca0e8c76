// Certificate Secrets nobody manages (kubernetes.io/tls, each with its own leaf and the CA in the
// chain), as a cluster full of hand-made or other tools' certificates has: the inventory's load.
// One key for every leaf keeps the making cheap; every certificate is still distinct (names, serial).
// bench/inventory.ts makes its certificates with the same CA maker (unmanagedCa).
import type { KeyObject } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { generateCa, loadCaMaterial } from '../../src/issuers/ca-material.ts';
import { InClusterCaIssuer } from '../../src/issuers/in-cluster-ca.ts';
import { generateKey, encodePrivateKey } from '../../src/pki/keys.ts';
import { buildCsr } from '../../src/pki/csr.ts';
import { createWithRetry } from './retry-create.ts';

export interface LeafRequest {
  key: KeyObject;
  /** Serial source: the request id and the identity's uid. */
  i: number;
  namespace: string;
  name: string;
  dnsNames: string[];
  durationMs: number;
}

/** A CA (ECDSA, one year) and a signer of server leaves under it; a leaf comes as its chain (leaf, then the CA). */
export async function unmanagedCa(commonName: string): Promise<(r: LeafRequest) => Promise<string>> {
  const ca = await generateCa({ commonName, durationMs: 365 * 86_400_000, key: { algorithm: 'ECDSA' } });
  const m = loadCaMaterial({
    'tls.crt': Buffer.from(ca.certPem).toString('base64'),
    'tls.key': Buffer.from(ca.keyPem).toString('base64'),
  });
  if (!m.ok) throw new Error(m.message);
  const issuer = new InClusterCaIssuer(m);
  return async ({ key, i, namespace, name, dnsNames, durationMs }) => {
    const csrPem = await buildCsr(key, {
      subject: { commonName: name },
      dnsNames,
      ipAddresses: [],
      uris: [],
      emailAddresses: [],
      usages: ['serverAuth'],
      isCA: false,
    });
    const r = await issuer.sign({
      csrPem,
      requestId: String(i),
      identity: { namespace, name, uid: String(i) },
      durationMs,
      isCA: false,
      usages: ['serverAuth'],
    });
    if (r.status !== 'issued') throw new Error(`certificate for ${namespace}/${name} not issued`);
    return r.certificatePem + ca.certPem;
  };
}

export async function createUnmanagedTlsSecrets(
  kc: k8s.KubeConfig,
  namespaces: string[],
  n: number,
  concurrency: number,
): Promise<void> {
  const leaf = await unmanagedCa('Unmanaged CA');
  const key = await generateKey({ algorithm: 'ECDSA' });
  const keyB64 = Buffer.from(encodePrivateKey(key, 'PKCS8')).toString('base64');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const ns = namespaces[i % namespaces.length]!;
    const chain = await leaf({
      key,
      i,
      namespace: ns,
      name: `legacy-${i}`,
      dnsNames: [`legacy-${i}.${ns}.svc`],
      durationMs: (30 + (i % 300)) * 86_400_000,
    });
    await createWithRetry(() =>
      core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: { name: `legacy-${i}-tls` },
          type: 'kubernetes.io/tls',
          data: { 'tls.crt': Buffer.from(chain).toString('base64'), 'tls.key': keyB64 },
        },
      }),
    );
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await one(next++);
    }),
  );
}
