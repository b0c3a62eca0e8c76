// Certificate Secrets nobody manages (kubernetes.io/tls, each with its own leaf and the CA in the
// chain), as a cluster full of hand-made or other tools' certificates has: the inventory's load.
// One key for every leaf keeps the making cheap; every certificate is still distinct (names, serial).
import * as k8s from '@kubernetes/client-node';
import { generateCa, loadCaMaterial } from '../../src/issuers/ca-material.ts';
import { InClusterCaIssuer } from '../../src/issuers/in-cluster-ca.ts';
import { generateKey, encodePrivateKey } from '../../src/pki/keys.ts';
import { buildCsr } from '../../src/pki/csr.ts';
import { createWithRetry } from './retry-create.ts';

export async function createUnmanagedTlsSecrets(
  kc: k8s.KubeConfig,
  namespaces: string[],
  n: number,
  concurrency: number,
): Promise<void> {
  const ca = await generateCa({
    commonName: 'Unmanaged CA',
    durationMs: 365 * 86_400_000,
    key: { algorithm: 'ECDSA' },
  });
  const m = loadCaMaterial({
    'tls.crt': Buffer.from(ca.certPem).toString('base64'),
    'tls.key': Buffer.from(ca.keyPem).toString('base64'),
  });
  if (!m.ok) throw new Error(m.message);
  const issuer = new InClusterCaIssuer(m);
  const key = await generateKey({ algorithm: 'ECDSA' });
  const keyB64 = Buffer.from(encodePrivateKey(key, 'PKCS8')).toString('base64');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const ns = namespaces[i % namespaces.length]!;
    const csrPem = await buildCsr(key, {
      subject: { commonName: `legacy-${i}` },
      dnsNames: [`legacy-${i}.${ns}.svc`],
      ipAddresses: [],
      uris: [],
      emailAddresses: [],
      usages: ['serverAuth'],
      isCA: false,
    });
    const r = await issuer.sign({
      csrPem,
      requestId: String(i),
      identity: { namespace: ns, name: `legacy-${i}`, uid: String(i) },
      durationMs: (30 + (i % 300)) * 86_400_000,
      isCA: false,
      usages: ['serverAuth'],
    });
    if (r.status !== 'issued') throw new Error('unmanaged certificate not issued');
    await createWithRetry(() =>
      core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: { name: `legacy-${i}-tls` },
          type: 'kubernetes.io/tls',
          data: { 'tls.crt': Buffer.from(r.certificatePem + ca.certPem).toString('base64'), 'tls.key': keyB64 },
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
