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

export interface ServingMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

/** What must change in the Secret's material: nothing, the leaf only, or everything. */
export function servingCertNeeds(
  data: Record<string, string> | undefined,
  hosts: readonly string[],
  now: Date,
): 'none' | 'leaf' | 'all' {
  const { 'ca.crt': ca, 'ca.key': key, 'tls.crt': crt, 'tls.key': tlsKey } = decodeAll(data ?? {});
  if (!ca || !key) return 'all';
  try {
    const caFacts = parseCertificate(ca);
    if (caFacts.notAfter.getTime() - now.getTime() < CA_RENEW_MS || !certificateMatchesKey(ca, parsePrivateKey(key)))
      return 'all';
    if (!crt || !tlsKey) return 'leaf';
    return leafUsable(crt, tlsKey, caFacts.subjectDN, hosts, now) ? 'none' : 'leaf';
  } catch {
    return 'all';
  }
}

/** The serving certificate has over a third of its life left, matches its key, comes from the CA and names every host. */
function leafUsable(crt: string, tlsKey: string, caSubjectDN: string, hosts: readonly string[], now: Date): boolean {
  const leaf = parseCertificate(crt);
  const life = leaf.notAfter.getTime() - leaf.notBefore.getTime();
  if (leaf.notAfter.getTime() - now.getTime() < life * LEAF_RENEW_FRACTION) return false;
  if (!certificateMatchesKey(crt, parsePrivateKey(tlsKey))) return false;
  if (leaf.issuerDN !== caSubjectDN) return false;
  const sans = new Set([...leaf.dnsNames, ...leaf.ipAddresses]);
  return hosts.every((h) => sans.has(h));
}

function decodeAll(data: Record<string, string>): Partial<Record<'ca.crt' | 'ca.key' | 'tls.crt' | 'tls.key', string>> {
  return {
    'ca.crt': decode(data['ca.crt']),
    'ca.key': decode(data['ca.key']),
    'tls.crt': decode(data['tls.crt']),
    'tls.key': decode(data['tls.key']),
  };
}

function decode(b64: string | undefined): string | undefined {
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
}

const isIp = (h: string): boolean => /^[0-9.]+$/.test(h) || h.includes(':');

async function issueLeaf(
  caPem: string,
  caKeyPem: string,
  hosts: readonly string[],
  now: Date,
): Promise<{ certPem: string; keyPem: string }> {
  const material = loadCaMaterial(
    { 'tls.crt': Buffer.from(caPem).toString('base64'), 'tls.key': Buffer.from(caKeyPem).toString('base64') },
    now,
  );
  if (!material.ok) throw new Error(`webhook CA unusable: ${material.message}`);
  const issuer = new InClusterCaIssuer(material, { now: () => now });
  const key = await generateKey({ algorithm: 'ECDSA', size: 256 });
  const dnsNames = hosts.filter((h) => !isIp(h)),
    ipAddresses = hosts.filter(isIp);
  const csrPem = await buildCsr(key, {
    subject: { commonName: hosts[0] ?? 'machine-identity-operator-webhook' },
    dnsNames,
    ipAddresses,
    uris: [],
    emailAddresses: [],
    usages: ['serverAuth'],
    isCA: false,
  });
  const res = await issuer.sign({
    csrPem,
    requestId: 'webhook',
    identity: { namespace: '', name: 'webhook', uid: 'webhook' },
    durationMs: LEAF_LIFETIME_MS,
    isCA: false,
    usages: ['serverAuth', 'digitalSignature'],
  });
  if (res.status !== 'issued')
    throw new Error(`webhook serving certificate: ${res.status === 'pending' ? 'pending' : res.message}`);
  return { certPem: res.certificatePem, keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Fresh material for the Secret: a new CA when asked (or none usable), and a new serving certificate. */
export async function renewMaterial(
  data: Record<string, string> | undefined,
  hosts: readonly string[],
  needs: 'leaf' | 'all',
  now: Date,
): Promise<Record<string, string>> {
  let caPem = decode(data?.['ca.crt']),
    caKeyPem = decode(data?.['ca.key']);
  if (needs === 'all' || !caPem || !caKeyPem) {
    const ca = await generateCa({
      commonName: 'machine-identity-operator webhook CA',
      durationMs: CA_LIFETIME_MS,
      key: { algorithm: 'ECDSA', size: 256 },
      now,
    });
    caPem = ca.certPem;
    caKeyPem = ca.keyPem;
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
export async function ensureServingCert(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  hosts: readonly string[],
  now = new Date(),
): Promise<ServingMaterial> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await getJsonOrNotFound<k8s.V1Secret>(kc, path, {});
    const needs = servingCertNeeds(cur?.data, hosts, now);
    // 'none' implies the Secret exists with data (anything less needs 'all')
    if (needs === 'none' && cur?.data) return material(cur.data);
    const data = await renewMaterial(cur?.data, hosts, needs === 'none' ? 'leaf' : needs, now);
    if (await writeServingSecret(core, cur, servingSecret(name, namespace, cur, data))) return material(data);
  }
  throw new Error(`webhook serving Secret ${namespace}/${name} kept changing under us`);
}

function servingSecret(
  name: string,
  namespace: string,
  cur: k8s.V1Secret | undefined,
  data: Record<string, string>,
): k8s.V1Secret {
  const resourceVersion = cur?.metadata?.resourceVersion;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'machine-identity-operator', 'app.kubernetes.io/component': 'webhook' },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data,
  };
}

/** Creates or replaces (with the read resourceVersion) the Secret; false when another replica wrote first. */
async function writeServingSecret(
  core: k8s.CoreV1Api,
  cur: k8s.V1Secret | undefined,
  body: k8s.V1Secret,
): Promise<boolean> {
  const name = body.metadata?.name ?? '',
    namespace = body.metadata?.namespace ?? '';
  try {
    if (cur) await core.replaceNamespacedSecret({ name, namespace, body });
    else await core.createNamespacedSecret({ namespace, body });
    return true;
  } catch (e) {
    if (!isConflict(e) && !isAlreadyExists(e)) throw new Error('write webhook serving Secret failed', { cause: e });
    return false;
  }
}

export function material(data: Record<string, string>): ServingMaterial {
  const certPem = decode(data['tls.crt']) ?? '';
  return {
    caPem: decode(data['ca.crt']) ?? '',
    certPem,
    keyPem: decode(data['tls.key']) ?? '',
    notAfter: parseCertificate(splitPem(certPem)[0] ?? '').notAfter,
  };
}
