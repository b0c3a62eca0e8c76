// Thin helpers over @kubernetes/client-node 2.x: one error shape, server-side apply and merge patch
// with the right Content-Type (the generated patch methods default to json-patch), a raw GET for
// generic list paths, and the kubeconfig lookup order the operator uses.
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { propertyOf } from './narrow.ts';
import { withSharedDispatcher } from './shared-dispatcher.ts';
import { sendStreamed, withNodeTransport } from './node-transport.ts';

export interface KubeError {
  code: number | undefined;
  reason: string | undefined;
  message: string;
  causes: Array<{ reason?: string; message?: string; field?: string }>;
}

/** ApiException (body is the Status as a JSON string), watch errors (statusCode) and network errors. */
export function toKubeError(e: unknown): KubeError {
  if (e instanceof k8s.ApiException) {
    const status = parseStatus(e.body);
    return {
      code: e.code,
      reason: status?.reason,
      message: status?.message ?? firstLine(e.message),
      causes: status?.details?.causes ?? [],
    };
  }
  if (e instanceof Error) {
    const code = propertyOf(e, 'statusCode');
    return { code: typeof code === 'number' ? code : undefined, reason: undefined, message: e.message, causes: [] };
  }
  return { code: undefined, reason: undefined, message: String(e), causes: [] };
}

interface StatusBody {
  reason?: string;
  message?: string;
  details?: { causes?: KubeError['causes'] };
}

function parseStatus(body: unknown): StatusBody | undefined {
  if (typeof body === 'object' && body !== null) return body as StatusBody;
  if (typeof body !== 'string') return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return typeof v === 'object' && v !== null ? (v as StatusBody) : undefined;
  } catch {
    return undefined;
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

const hasCode =
  (code: number) =>
  (e: unknown): boolean =>
    toKubeError(e).code === code;
export const isNotFound = hasCode(404);
export const isConflict = (e: unknown): boolean => {
  const k = toKubeError(e);
  return k.code === 409 && k.reason !== 'AlreadyExists';
};
export const isAlreadyExists = (e: unknown): boolean => {
  const k = toKubeError(e);
  return k.code === 409 && k.reason === 'AlreadyExists';
};
export const isGone = hasCode(410);

/** Per-call options that set the patch Content-Type; auth middleware is kept (it appends). */
export const SSA = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
export const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export interface GVR {
  group: string;
  version: string;
  plural: string;
}

/**
 * Server-side apply of any object (core or custom). The body must hold only this manager's fields:
 * a field it owned and now omits is removed. `force` takes fields from other managers; use it only
 * on objects this operator owns.
 */
export async function applyNamespaced<T extends k8s.KubernetesObject>(
  kc: k8s.KubeConfig,
  obj: T,
  fieldManager: string,
  force = true,
): Promise<T> {
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  return api.patch(obj, undefined, undefined, fieldManager, force, k8s.PatchStrategy.ServerSideApply);
}

/**
 * Server-side apply of the `/status` subresource of a custom object (namespaced or cluster-scoped), as plain
 * JSON (sendJson): a status apply follows every issuance, and the answer is read through zod by the caller.
 */
export async function applyStatus<T extends k8s.KubernetesObject>(
  kc: k8s.KubeConfig,
  gvr: GVR,
  obj: T,
  fieldManager: string,
): Promise<T> {
  const name = obj.metadata?.name;
  if (!name) throw new Error('applyStatus: metadata.name is required');
  const namespace = obj.metadata?.namespace;
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const path = `/apis/${gvr.group}/${gvr.version}${scope}/${gvr.plural}/${encodeURIComponent(name)}/status`;
  return sendJson<T>(kc, 'PATCH', path, { fieldManager, force: true }, obj, k8s.PatchStrategy.ServerSideApply);
}

/** GET of an arbitrary API path (e.g. a list) as parsed JSON; non-2xx throws ApiException. */
export async function getJson<T>(
  kc: k8s.KubeConfig,
  path: string,
  query: Record<string, string | number | undefined>,
  signal?: AbortSignal,
): Promise<T> {
  const r = await getJsonOrNotFound<T>(kc, path, query, signal);
  if (r === undefined) throw new k8s.ApiException(404, `HTTP-Code: 404 GET ${path}`, '{"reason":"NotFound"}', {});
  return r;
}

/** Like getJson, but a 404 is `undefined` instead of an exception (existence checks on a hot path). */
export async function getJsonOrNotFound<T>(
  kc: k8s.KubeConfig,
  path: string,
  query: Record<string, string | number | undefined>,
  signal?: AbortSignal,
): Promise<T | undefined> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in kubeconfig');
  const url = new URL(cluster.server + path);
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
  const ctx = new k8s.RequestContext(url.toString(), k8s.HttpMethod.GET);
  ctx.setHeaderParam('Accept', 'application/json');
  if (signal) ctx.setSignal(signal);
  await kc.applySecurityAuthentication(ctx);
  const res = await sendStreamed(kc, ctx);
  const text = await res.text();
  if (res.status === 404) return undefined;
  if (res.status < 200 || res.status > 299) {
    throw new k8s.ApiException(res.status, `HTTP-Code: ${res.status} GET ${path}`, text, res.headers);
  }
  return JSON.parse(text) as T;
}

/** True when the API server serves `resource` in the group/version at `path` (e.g. /apis/certificates.k8s.io/v1beta1); beta and add-on APIs may be absent. */
export async function apiServes(kc: k8s.KubeConfig, path: string, resource: string): Promise<boolean> {
  try {
    const r = await getJsonOrNotFound<{ resources?: { name: string }[] }>(kc, path, {});
    return Boolean(r?.resources?.some((x) => x.name === resource));
  } catch {
    return false;
  }
}

/** A request with a body to an arbitrary API path; returns the status and text (no exception for non-2xx). */
export async function sendRaw(
  kc: k8s.KubeConfig,
  method: 'PATCH' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body: string,
  contentType: string,
): Promise<{ status: number; text: string }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in kubeconfig');
  const ctx = new k8s.RequestContext(cluster.server + path, method as k8s.HttpMethod);
  ctx.setHeaderParam('Accept', 'application/json');
  ctx.setHeaderParam('Content-Type', contentType);
  ctx.setBody(body);
  await kc.applySecurityAuthentication(ctx);
  const res = await sendStreamed(kc, ctx);
  return { status: res.status, text: await res.text() };
}

/**
 * A JSON request to an API path, its JSON answer returned as is: for the few requests of every issuance
 * (the Secret write, the status apply, the Event), client-node's generated clients walk their model types
 * over the request and the answer (ObjectSerializer), which is most of their cost. Non-2xx throws
 * ApiException with the Status text as body, as the generated clients do (toKubeError reads both).
 * The caller validates what it reads of the answer.
 */
export async function sendJson<T>(
  kc: k8s.KubeConfig,
  method: 'PATCH' | 'POST' | 'PUT',
  path: string,
  query: Record<string, string | boolean | undefined>,
  body: unknown,
  contentType = 'application/json',
): Promise<T> {
  const q = Object.entries(query)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  const target = q ? `${path}?${q}` : path;
  const res = await sendRaw(kc, method, target, JSON.stringify(body), contentType);
  if (res.status < 200 || res.status > 299)
    throw new k8s.ApiException(res.status, `HTTP-Code: ${res.status} ${method} ${path}`, res.text, {});
  return JSON.parse(res.text) as T;
}

/** KUBECONFIG if set, else the in-cluster service account, else ~/.kube/config. */
export function kubeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (env.KUBECONFIG) {
    if (env.KUBECONFIG.includes(delimiter))
      kc.loadFromDefault(); // a path list: client-node merges it
    else kc.loadFromFile(env.KUBECONFIG);
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token'))
    kc.loadFromCluster();
  else kc.loadFromDefault();
  return withNodeTransport(withSharedDispatcher(kc));
}
