// `kubectl mi inventory`: every certificate the caller may read, found and judged by the operator's
// own code (src/inventory/), straight from the API with the caller's credentials: no operator needed,
// and RBAC decides what a person sees.
import type * as k8s from '@kubernetes/client-node';
import { getJson, getJsonOrNotFound } from '../runtime/kube.ts';
import { parseIssuancePolicy } from '../crds/index.ts';
import { compilePolicies, type PolicyInput } from '../policy/evaluate.ts';
import {
  extractFromApiService, extractFromConfigMap, extractFromCrd, extractFromSecret, extractFromWebhookConfiguration, type Extracted,
} from '../inventory/extract.ts';
import { buildEntries, type InventoryEntry, type InventoryObject, type KnownCa, type ManagedIdentity } from '../inventory/model.ts';
import { gatewayRefs, ingressRefs, podRefs } from '../inventory/sources.ts';

interface List<T> { items?: T[]; metadata?: { continue?: string } }

async function listAll<T>(kc: k8s.KubeConfig, path: string): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const page = await getJson<List<T>>(kc, path, { limit: 500, continue: cont });
    out.push(...(page.items ?? []));
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return out;
}

/** A list the caller may not be allowed (403) or the cluster may not serve (404) is empty, not fatal. */
async function listOrEmpty<T>(kc: k8s.KubeConfig, path: string, warn: (m: string) => void): Promise<T[]> {
  try { return await listAll<T>(kc, path); } catch (e) {
    const code = (e as { code?: number }).code;
    if (code === 403 || code === 404) { warn(`skipped ${path}: HTTP ${code}`); return []; }
    throw e;
  }
}

function holder(kind: string, o: k8s.KubernetesObject, extract: (x: never) => Extracted, ownerKeys: readonly string[]): InventoryObject {
  const x = extract(o as never);
  const m = o.metadata ?? {};
  const annotations: Record<string, string> = {};
  for (const k of ownerKeys) if (m.annotations?.[k]) annotations[k] = m.annotations[k];
  return { kind, metadata: { name: m.name ?? '', ...(m.namespace ? { namespace: m.namespace } : {}), ...(m.labels ? { labels: m.labels } : {}), annotations },
    certs: x.certs, problems: x.problems };
}

export interface InventoryQuery { namespace?: string; ownerKeys: readonly string[]; warn(m: string): void }

export async function collectInventory(kc: k8s.KubeConfig, q: InventoryQuery): Promise<InventoryEntry[]> {
  const ns = q.namespace ? `/namespaces/${encodeURIComponent(q.namespace)}` : '';
  const [secrets, configMaps, pods, ingresses] = await Promise.all([
    listOrEmpty<k8s.V1Secret>(kc, `/api/v1${ns}/secrets`, q.warn), listOrEmpty<k8s.V1ConfigMap>(kc, `/api/v1${ns}/configmaps`, q.warn),
    listOrEmpty<k8s.V1Pod>(kc, `/api/v1${ns}/pods`, q.warn), listOrEmpty<k8s.V1Ingress>(kc, `/apis/networking.k8s.io/v1${ns}/ingresses`, q.warn)]);
  const gateways = await getJsonOrNotFound(kc, '/apis/gateway.networking.k8s.io/v1', {}).catch(() => undefined)
    ? await listOrEmpty<never>(kc, `/apis/gateway.networking.k8s.io/v1${ns}/gateways`, q.warn) : [];
  const objects: InventoryObject[] = [
    ...secrets.map((s) => holder('Secret', s, extractFromSecret, q.ownerKeys)),
    ...configMaps.map((c) => holder('ConfigMap', c, extractFromConfigMap, q.ownerKeys)),
  ];
  if (!q.namespace) {
    const cluster: [string, string, (x: never) => Extracted][] = [
      ['ValidatingWebhookConfiguration', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', extractFromWebhookConfiguration],
      ['MutatingWebhookConfiguration', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', extractFromWebhookConfiguration],
      ['APIService', '/apis/apiregistration.k8s.io/v1/apiservices', extractFromApiService],
      ['CustomResourceDefinition', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', extractFromCrd],
    ];
    for (const [kind, path, fn] of cluster) objects.push(...(await listOrEmpty<k8s.KubernetesObject>(kc, path, q.warn)).map((o) => holder(kind, o, fn, q.ownerKeys)));
  }
  const [identities, bindings, policyObjs, namespaces] = await Promise.all([
    listOrEmpty<IdentityLike>(kc, `/apis/machineidentity.io/v1alpha1${ns}/machineidentities`, q.warn),
    listOrEmpty<{ metadata: k8s.V1ObjectMeta; status?: { caFingerprintSHA256?: string } }>(kc, '/apis/machineidentity.io/v1alpha1/certificateauthoritybindings', q.warn),
    listOrEmpty<unknown>(kc, '/apis/machineidentity.io/v1alpha1/issuancepolicies', q.warn),
    q.namespace ? getJsonOrNotFound<k8s.V1Namespace>(kc, `/api/v1/namespaces/${encodeURIComponent(q.namespace)}`, {}).then((n) => (n ? [n] : []), () => [])
      : listOrEmpty<k8s.V1Namespace>(kc, '/api/v1/namespaces', q.warn),
  ]);
  const inputs: PolicyInput[] = [];
  for (const p of policyObjs) { const r = parseIssuancePolicy(p); if (r.success) inputs.push({ name: r.data.metadata?.name ?? '', spec: r.data.spec }); }
  return buildEntries({
    objects, pods: pods.map(podRefs), tls: [...ingresses.map(ingressRefs), ...gateways.map(gatewayRefs)], knownCas: knownCasOf(objects, bindings), identities: identityMap(identities),
    namespaces: new Map(namespaces.map((n) => [n.metadata?.name ?? '', { labels: n.metadata?.labels ?? {}, annotations: n.metadata?.annotations ?? {} }])),
    ownerKeys: q.ownerKeys, policies: compilePolicies(inputs),
  });
}

type IdentityLike = { metadata: k8s.V1ObjectMeta; spec?: { secretName?: string; owner?: { team?: string }; authorityRef?: { name?: string } } };

function identityMap(identities: readonly IdentityLike[]): Map<string, ManagedIdentity> {
  const idMap = new Map<string, ManagedIdentity>();
  for (const mi of identities) {
    if (!mi.spec?.secretName) continue;
    idMap.set(`${mi.metadata.namespace}/${mi.spec.secretName}`, { name: mi.metadata.name ?? '', ...(mi.spec.owner?.team ? { ownerTeam: mi.spec.owner.team } : {}),
      ...(mi.spec.authorityRef?.name ? { authority: mi.spec.authorityRef.name } : {}) });
  }
  return idMap;
}

/** The CLI cannot read the operator's CA keys: a binding's CA is the certificate found with its status fingerprint. */
function knownCasOf(objects: readonly InventoryObject[], bindings: readonly { metadata: k8s.V1ObjectMeta; status?: { caFingerprintSHA256?: string } }[]): KnownCa[] {
  const byFp = new Map(bindings.filter((b) => b.status?.caFingerprintSHA256).map((b) => [b.status!.caFingerprintSHA256!, b.metadata.name ?? '']));
  const out: KnownCa[] = [];
  const seen = new Set<string>();
  for (const o of objects) for (const c of o.certs) {
    const a = byFp.get(c.fingerprintSHA256);
    if (!a || seen.has(c.fingerprintSHA256)) continue;
    seen.add(c.fingerprintSHA256);
    out.push({ authority: a, subjectDN: c.subjectDN, fingerprintSHA256: c.fingerprintSHA256, ...(c.subjectKeyId ? { subjectKeyId: c.subjectKeyId } : {}) });
  }
  return out;
}

export interface InventoryRow {
  namespace: string; kind: string; name: string; key: string; subject: string; issuer: string; serialNumber: string; fingerprintSHA256: string;
  notBefore: string; notAfter: string; expiresInSeconds: number; keyAlgorithm: string; keySize?: number; signatureAlgorithm: string;
  isCA: boolean; selfSigned: boolean; dnsNames: string[]; ipAddresses: string[]; uris: string[]; emailAddresses: string[]; sanCount: number;
  managed: boolean; identity?: string; authority?: string; trusted: boolean; owner?: string;
  location: InventoryEntry['location']; compliant: boolean; violations: { policy: string; enforcement: string; rule: string; message: string }[];
}

export function toRow(e: InventoryEntry, now: number): InventoryRow {
  const c = e.cert;
  const row: InventoryRow = {
    namespace: e.namespace, kind: e.kind, name: e.name, key: c.key, subject: c.subjectDN, issuer: c.issuerDN, serialNumber: c.serialNumber,
    fingerprintSHA256: c.fingerprintSHA256, notBefore: new Date(c.notBefore).toISOString(), notAfter: new Date(c.notAfter).toISOString(),
    expiresInSeconds: Math.round((c.notAfter - now) / 1000), keyAlgorithm: c.keyAlgorithm, signatureAlgorithm: c.signatureAlgorithm,
    isCA: c.isCA, selfSigned: c.selfSigned, dnsNames: c.dnsNames, ipAddresses: c.ipAddresses, uris: c.uris, emailAddresses: c.emailAddresses,
    sanCount: c.sanCount, managed: e.managed, trusted: e.trusted, location: e.location, compliant: e.compliant,
    violations: e.violations.map((v) => ({ policy: v.policy, enforcement: v.enforcement, rule: v.rule, message: v.message })),
  };
  if (c.keySize !== undefined) row.keySize = c.keySize;
  if (e.identity) row.identity = e.identity;
  if (e.authority) row.authority = e.authority;
  if (e.owner) row.owner = e.owner;
  return row;
}

function age(seconds: number): string {
  const a = Math.abs(seconds);
  const s = a >= 86_400 ? `${Math.floor(a / 86_400)}d` : a >= 3600 ? `${Math.floor(a / 3600)}h` : `${Math.floor(a / 60)}m`;
  return seconds < 0 ? `expired ${s} ago` : s;
}

export function formatTable(rows: readonly InventoryRow[]): string {
  const head = ['NAMESPACE', 'KIND', 'NAME', 'KEY', 'SUBJECT', 'EXPIRES IN', 'KEY ALG', 'SIGNATURE', 'MANAGED', 'TRUSTED', 'COMPLIANT', 'OWNER'];
  const body = rows.map((r) => [r.namespace || '-', r.kind, r.name, r.key, r.subject.slice(0, 60) || '-', age(r.expiresInSeconds),
    `${r.keyAlgorithm}${r.keySize ? `-${r.keySize}` : ''}`, r.signatureAlgorithm, String(r.managed), String(r.trusted), String(r.compliant), r.owner ?? '-']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

const csvCell = (v: unknown): string => {
  const s = Array.isArray(v) ? v.join(' ') : v === undefined ? '' : String(v);
  // a cell starting with = + - @ is a formula in spreadsheets: neutralise it
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

export function formatCsv(rows: readonly InventoryRow[]): string {
  const cols = ['namespace', 'kind', 'name', 'key', 'subject', 'issuer', 'serialNumber', 'fingerprintSHA256', 'notBefore', 'notAfter', 'expiresInSeconds',
    'keyAlgorithm', 'keySize', 'signatureAlgorithm', 'isCA', 'selfSigned', 'dnsNames', 'managed', 'identity', 'authority', 'trusted', 'owner', 'compliant'] as const;
  return [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}
