// The admission webhook's TLS: a private CA and a serving certificate, kept in one Secret in the
// operator's namespace so that every replica serves the same certificate and the caBundle (the CA)
// stays put when the serving certificate is renewed. Written with optimistic concurrency: two
// replicas starting at once converge on whichever write landed first.
import * as k8s from '@kubernetes/client-node';
import { generateCa, loadCaMaterial } from '../issuers/ca-material.ts';
import { InClusterCaIssuer } from '../issuers/in-cluster-ca.ts';
import { generateKey } from '../pki/keys.ts';
import { buildCsr } from '../pki/csr.ts';
import { parseCertificate, splitPem, certificateMatchesKey } from '../pki/certs.ts';
import { parsePrivateKey } from '../pki/keys.ts';
import { getJsonOrNotFound, isConflict, isAlreadyExists } from '../runtime/kube.ts';

const CA_LIFETIME_MS = 10 * 365 * 86_400_000;
const LEAF_LIFETIME_MS = 365 * 86_400_000;
/** Renew the serving certificate with a third of its life left, the CA with a year left. */
const LEAF_RENEW_FRACTION = 1 / 3;
const CA_RENEW_MS = 365 * 86_400_000;

export interface ServingMaterial { caPem: string; certPem: string; keyPem: string; notAfter: Date }

/** What must change in the Secret's material: nothing, the leaf only, or everything. */
export function servingCertNeeds(data: Record<string, string> | undefined, hosts: readonly string[], now: Date): 'none' | 'leaf' | 'all' {
  const ca = decode(data?.['ca.crt']), key = decode(data?.['ca.key']), crt = decode(data?.['tls.crt']), tlsKey = decode(data?.['tls.key']);
  if (!ca || !key) return 'all';
  try {
    const caFacts = parseCertificate(ca);
    if (caFacts.notAfter.getTime() - now.getTime() < CA_RENEW_MS || !certificateMatchesKey(ca, parsePrivateKey(key))) return 'all';
    if (!crt || !tlsKey) return 'leaf';
    const leaf = parseCertificate(crt);
    const life = leaf.notAfter.getTime() - leaf.notBefore.getTime();
    if (leaf.notAfter.getTime() - now.getTime() < life * LEAF_RENEW_FRACTION) return 'leaf';
    if (!certificateMatchesKey(crt, parsePrivateKey(tlsKey))) return 'leaf';
    if (leaf.issuerDN !== caFacts.subjectDN) return 'leaf';
    const sans = new Set([...leaf.dnsNames, ...leaf.ipAddresses]);
    if (hosts.some((h) => !sans.has(h))) return 'leaf';
    return 'none';
  } catch {
    return 'all';
  }
}

function decode(b64: string | undefined): string | undefined {
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
}

const isIp = (h: string): boolean => /^[0-9.]+$/.test(h) || h.includes(':');

async function issueLeaf(caPem: string, caKeyPem: string, hosts: readonly string[], now: Date): Promise<{ certPem: string; keyPem: string }> {
  const material = loadCaMaterial({ 'tls.crt': Buffer.from(caPem).toString('base64'), 'tls.key': Buffer.from(caKeyPem).toString('base64') }, now);
  if (!material.ok) throw new Error(`webhook CA unusable: ${material.message}`);
  const issuer = new InClusterCaIssuer(material, { now: () => now });
  const key = await generateKey({ algorithm: 'ECDSA', size: 256 });
  const dnsNames = hosts.filter((h) => !isIp(h)), ipAddresses = hosts.filter(isIp);
  const csrPem = await buildCsr(key, { subject: { commonName: hosts[0] ?? 'machine-identity-operator-webhook' }, dnsNames, ipAddresses, uris: [], emailAddresses: [], usages: ['serverAuth'], isCA: false });
  const res = await issuer.sign({ csrPem, requestId: 'webhook', identity: { namespace: '', name: 'webhook', uid: 'webhook' }, durationMs: LEAF_LIFETIME_MS, isCA: false, usages: ['serverAuth', 'digitalSignature'] });
  if (res.status !== 'issued') throw new Error(`webhook serving certificate: ${res.status === 'pending' ? 'pending' : res.message}`);
  return { certPem: res.certificatePem, keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Fresh material for the Secret: a new CA when asked (or none usable), and a new serving certificate. */
export async function renewMaterial(data: Record<string, string> | undefined, hosts: readonly string[], needs: 'leaf' | 'all', now: Date): Promise<Record<string, string>> {
  let caPem = decode(data?.['ca.crt']), caKeyPem = decode(data?.['ca.key']);
  if (needs === 'all' || !caPem || !caKeyPem) {
    const ca = await generateCa({ commonName: 'machine-identity-operator webhook CA', durationMs: CA_LIFETIME_MS, key: { algorithm: 'ECDSA', size: 256 }, now });
    caPem = ca.certPem; caKeyPem = ca.keyPem;
  }
  const leaf = await issueLeaf(caPem, caKeyPem, hosts, now);
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return { 'ca.crt': b64(caPem), 'ca.key': b64(caKeyPem), 'tls.crt': b64(leaf.certPem), 'tls.key': b64(leaf.keyPem) };
}

/**
 * Makes the Secret hold a valid CA and a serving certificate for `hosts`; returns the material.
 * Create when absent, replace with the read resourceVersion when stale; on a conflict, re-read and
 * take what the other replica wrote.
 */
export async function ensureServingCert(kc: k8s.KubeConfig, namespace: string, name: string, hosts: readonly string[], now = new Date()): Promise<ServingMaterial> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await getJsonOrNotFound<k8s.V1Secret>(kc, path, {});
    const needs = servingCertNeeds(cur?.data, hosts, now);
    if (needs === 'none') return material(cur!.data!);
    const data = await renewMaterial(cur?.data, hosts, needs, now);
    const body: k8s.V1Secret = { apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
      metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'machine-identity-operator', 'app.kubernetes.io/component': 'webhook' },
        ...(cur?.metadata?.resourceVersion ? { resourceVersion: cur.metadata.resourceVersion } : {}) }, data };
    try {
      if (cur) await core.replaceNamespacedSecret({ name, namespace, body });
      else await core.createNamespacedSecret({ namespace, body });
      return material(data);
    } catch (e) {
      if (!isConflict(e) && !isAlreadyExists(e)) throw new Error('write webhook serving Secret failed', { cause: e });
    }
  }
  throw new Error(`webhook serving Secret ${namespace}/${name} kept changing under us`);
}

export function material(data: Record<string, string>): ServingMaterial {
  const certPem = decode(data['tls.crt'])!;
  return { caPem: decode(data['ca.crt'])!, certPem, keyPem: decode(data['tls.key'])!, notAfter: parseCertificate(splitPem(certPem)[0] ?? '').notAfter };
}
