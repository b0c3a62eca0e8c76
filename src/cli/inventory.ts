// `kubectl mi inventory`: every certificate the caller may read, found and judged by the operator's
// own code (src/inventory/), straight from the API with the caller's credentials: no operator needed,
// and RBAC decides what a person sees.
import type * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import { getJson, getJsonOrNotFound } from '../runtime/kube.ts';
import { propertyOf } from '../runtime/narrow.ts';
import { parseIssuancePolicy } from '../crds/index.ts';
import { compilePolicies, type PolicyInput } from '../policy/evaluate.ts';
import {
  extractFromApiService,
  extractFromConfigMap,
  extractFromCrd,
  extractFromSecret,
  extractFromWebhookConfiguration,
  type Extracted,
} from '../inventory/extract.ts';
import {
  buildEntries,
  type InventoryEntry,
  type InventoryObject,
  type KnownCa,
  type ManagedIdentity,
} from '../inventory/model.ts';
import { gatewayRefs, ingressRefs, podRefs } from '../inventory/refs.ts';
import { attachAnomalies, keyAnomalies, keyHoldings } from '../inventory/anomalies.ts';
import { applyMuting } from '../validation/muting.ts';

// What a list answer must look like before anything reads it: items are objects with metadata (each
// item's content is then read by the extractors, which treat every field as untrusted).
const ListPage = z.object({
  items: z.array(z.looseObject({ metadata: z.looseObject({ name: z.string().optional() }).optional() })).nullish(),
  metadata: z.looseObject({ continue: z.string().optional() }).optional(),
});

async function listAll<T>(kc: k8s.KubeConfig, path: string, signal?: AbortSignal): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const raw = await getJson<unknown>(kc, path, { limit: 500, continue: cont }, signal);
    const page = ListPage.safeParse(raw);
    if (!page.success) throw new Error(`GET ${path}: not a list (${page.error.issues[0]?.message ?? 'invalid'})`);
    // the items are the API's own objects, checked above for shape; their fields are read defensively below
    out.push(...((page.data.items ?? []) as unknown as T[]));
    cont = page.data.metadata?.continue || undefined;
  } while (cont);
  return out;
}

/** A list the caller may not be allowed (403) or the cluster may not serve (404) is empty, not fatal. */
async function listOrEmpty<T>(
  kc: k8s.KubeConfig,
  path: string,
  warn: (m: string) => void,
  signal?: AbortSignal,
): Promise<T[]> {
  try {
    return await listAll<T>(kc, path, signal);
  } catch (e) {
    const code = propertyOf(e, 'code');
    if (code === 403 || code === 404) {
      warn(`skipped ${path}: HTTP ${code}`);
      return [];
    }
    throw e;
  }
}

function holder(
  kind: string,
  o: k8s.KubernetesObject,
  extract: (x: never) => Extracted,
  ownerKeys: readonly string[],
): InventoryObject {
  const x = extract(o as never);
  const m = o.metadata ?? {};
  const annotations: Record<string, string> = {};
  for (const k of ownerKeys) if (m.annotations?.[k]) annotations[k] = m.annotations[k];
  return {
    kind,
    metadata: {
      name: m.name ?? '',
      ...(m.namespace ? { namespace: m.namespace } : {}),
      ...(m.labels ? { labels: m.labels } : {}),
      annotations,
    },
    certs: x.certs,
    problems: x.problems,
    ...(x.keys?.length ? { keys: x.keys } : {}),
  };
}

export interface InventoryQuery {
  namespace?: string;
  ownerKeys: readonly string[];
  warn(m: string): void;
  /** Aborts every request (the fleet inventory's per-cluster deadline). */
  signal?: AbortSignal;
}

export async function collectInventory(kc: k8s.KubeConfig, q: InventoryQuery): Promise<InventoryEntry[]> {
  const sig = q.signal;
  const ns = q.namespace ? `/namespaces/${encodeURIComponent(q.namespace)}` : '';
  const [secrets, configMaps, pods, ingresses] = await Promise.all([
    listOrEmpty<k8s.V1Secret>(kc, `/api/v1${ns}/secrets`, q.warn, sig),
    listOrEmpty<k8s.V1ConfigMap>(kc, `/api/v1${ns}/configmaps`, q.warn, sig),
    listOrEmpty<k8s.V1Pod>(kc, `/api/v1${ns}/pods`, q.warn, sig),
    listOrEmpty<k8s.V1Ingress>(kc, `/apis/networking.k8s.io/v1${ns}/ingresses`, q.warn, sig),
  ]);
  const gateways = (await getJsonOrNotFound(kc, '/apis/gateway.networking.k8s.io/v1', {}, sig).catch(() => undefined))
    ? await listOrEmpty<never>(kc, `/apis/gateway.networking.k8s.io/v1${ns}/gateways`, q.warn, sig)
    : [];
  const objects: InventoryObject[] = [
    ...secrets.map((s) => holder('Secret', s, extractFromSecret, q.ownerKeys)),
    ...configMaps.map((c) => holder('ConfigMap', c, extractFromConfigMap, q.ownerKeys)),
  ];
  if (!q.namespace) {
    const cluster: [string, string, (x: never) => Extracted][] = [
      [
        'ValidatingWebhookConfiguration',
        '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
        extractFromWebhookConfiguration,
      ],
      [
        'MutatingWebhookConfiguration',
        '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
        extractFromWebhookConfiguration,
      ],
      ['APIService', '/apis/apiregistration.k8s.io/v1/apiservices', extractFromApiService],
      ['CustomResourceDefinition', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', extractFromCrd],
    ];
    for (const [kind, path, fn] of cluster)
      objects.push(
        ...(await listOrEmpty<k8s.KubernetesObject>(kc, path, q.warn, sig)).map((o) =>
          holder(kind, o, fn, q.ownerKeys),
        ),
      );
  }
  const [identities, bindings, policyObjs, namespaces] = await Promise.all([
    listOrEmpty<IdentityLike>(kc, `/apis/machineidentity.io/v1alpha1${ns}/machineidentities`, q.warn, sig),
    listOrEmpty<{ metadata: k8s.V1ObjectMeta; status?: { caFingerprintSHA256?: string } }>(
      kc,
      '/apis/machineidentity.io/v1alpha1/certificateauthoritybindings',
      q.warn,
      sig,
    ),
    listOrEmpty<unknown>(kc, '/apis/machineidentity.io/v1alpha1/issuancepolicies', q.warn, sig),
    q.namespace
      ? getJsonOrNotFound<k8s.V1Namespace>(kc, `/api/v1/namespaces/${encodeURIComponent(q.namespace)}`, {}, sig).then(
          (n) => (n ? [n] : []),
          () => [],
        )
      : listOrEmpty<k8s.V1Namespace>(kc, '/api/v1/namespaces', q.warn, sig),
  ]);
  const inputs: PolicyInput[] = [];
  for (const p of policyObjs) {
    const r = parseIssuancePolicy(p);
    if (r.success) inputs.push({ name: r.data.metadata?.name ?? '', spec: r.data.spec });
  }
  const idMap = identityMap(identities);
  const nsMeta = new Map(
    namespaces.map((n) => [
      n.metadata?.name ?? '',
      { labels: n.metadata?.labels ?? {}, annotations: n.metadata?.annotations ?? {} },
    ]),
  );
  const entries = buildEntries({
    objects,
    pods: pods.map(podRefs),
    tls: [...ingresses.map(ingressRefs), ...gateways.map(gatewayRefs)],
    knownCas: knownCasOf(objects, bindings),
    identities: idMap,
    namespaces: nsMeta,
    ownerKeys: q.ownerKeys,
    policies: compilePolicies(inputs),
  });
  // what the CLI can see of key reuse and copies (a reissue loop needs the operator's history)
  const found = applyMuting(keyAnomalies(keyHoldings(objects, idMap)), (n) => nsMeta.get(n)?.annotations);
  attachAnomalies(entries, found);
  return entries;
}

type IdentityLike = {
  metadata: k8s.V1ObjectMeta;
  spec?: { secretName?: string; owner?: { team?: string }; authorityRef?: { name?: string } };
};

function identityMap(identities: readonly IdentityLike[]): Map<string, ManagedIdentity> {
  const idMap = new Map<string, ManagedIdentity>();
  for (const mi of identities) {
    if (!mi.spec?.secretName) continue;
    idMap.set(`${mi.metadata.namespace}/${mi.spec.secretName}`, {
      name: mi.metadata.name ?? '',
      ...(mi.spec.owner?.team ? { ownerTeam: mi.spec.owner.team } : {}),
      ...(mi.spec.authorityRef?.name ? { authority: mi.spec.authorityRef.name } : {}),
    });
  }
  return idMap;
}

/** The CLI cannot read the operator's CA keys: a binding's CA is the certificate found with its status fingerprint. */
function knownCasOf(
  objects: readonly InventoryObject[],
  bindings: readonly { metadata: k8s.V1ObjectMeta; status?: { caFingerprintSHA256?: string } }[],
): KnownCa[] {
  const byFp = new Map(
    bindings.flatMap((b) => {
      const fp = b.status?.caFingerprintSHA256;
      return fp ? [[fp, b.metadata.name ?? ''] as const] : [];
    }),
  );
  const out: KnownCa[] = [];
  const seen = new Set<string>();
  for (const o of objects)
    for (const c of o.certs) {
      const a = byFp.get(c.fingerprintSHA256);
      if (!a || seen.has(c.fingerprintSHA256)) continue;
      seen.add(c.fingerprintSHA256);
      out.push({
        authority: a,
        subjectDN: c.subjectDN,
        fingerprintSHA256: c.fingerprintSHA256,
        ...(c.subjectKeyId ? { subjectKeyId: c.subjectKeyId } : {}),
      });
    }
  return out;
}
