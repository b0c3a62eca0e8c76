// `kubectl mi validate [name] [-n ns | -A] [--wait] [--timeout 2m] [-o table|json] [--strict]`: ask the
// operator to probe the selected identities' endpoints now (annotation machineidentity.io/validate-requested-at,
// a merge patch with the caller's credentials), optionally wait for the answer, and print what each endpoint
// serves. Exit codes (docs/cli.md): 0 current, 1 stale/expired/incomplete/untrusted, 2 usage, 3 --wait timed out.
import type * as k8s from '@kubernetes/client-node';
import { getJson, getJsonOrNotFound, sendRaw } from '../runtime/kube.ts';
import { propertyOf } from '../runtime/narrow.ts';
import { VALIDATE_REQUESTED_AT } from '../validation/types.ts';
import {
  decideValidate,
  formatValidateTable,
  notProbedSince,
  requestTime,
  type ValidatedIdentity,
} from './validate-decision.ts';

const API = '/apis/machineidentity.io/v1alpha1';
const POLL_MS = 2_000;
const PATCH_PARALLEL = 8;

export interface ValidateRun {
  /** One identity by name (in `namespace`), else every identity in `namespace`, or in all namespaces when undefined. */
  name?: string;
  namespace?: string;
  wait: boolean;
  timeoutMs: number;
  output: 'table' | 'json';
  strict: boolean;
  /** For tests: how to wait between polls. */
  sleep?: (ms: number) => Promise<void>;
}

export interface ValidateOutcome {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const enc = encodeURIComponent;
const collection = (ns: string | undefined): string =>
  ns === undefined ? `${API}/machineidentities` : `${API}/namespaces/${enc(ns)}/machineidentities`;

async function select(kc: k8s.KubeConfig, run: ValidateRun): Promise<ValidatedIdentity[] | undefined> {
  if (run.name !== undefined) {
    const one = await getJsonOrNotFound<ValidatedIdentity>(kc, `${collection(run.namespace)}/${enc(run.name)}`, {});
    return one ? [one] : undefined;
  }
  return (await getJson<{ items?: ValidatedIdentity[] }>(kc, collection(run.namespace), {})).items ?? [];
}

async function annotate(kc: k8s.KubeConfig, mi: ValidatedIdentity, requestedAt: string): Promise<string | undefined> {
  const path = `${API}/namespaces/${enc(mi.metadata.namespace ?? '')}/machineidentities/${enc(mi.metadata.name ?? '')}`;
  const body = JSON.stringify({ metadata: { annotations: { [VALIDATE_REQUESTED_AT]: requestedAt } } });
  const r = await sendRaw(kc, 'PATCH', path, body, 'application/merge-patch+json');
  if (r.status >= 200 && r.status < 300) return undefined;
  let why: unknown;
  try {
    why = propertyOf(JSON.parse(r.text), 'message');
  } catch {
    // not a Status object: the code says enough
  }
  return `${mi.metadata.namespace}/${mi.metadata.name}: could not request validation: ${typeof why === 'string' ? why : `HTTP ${r.status}`}`;
}

async function annotateAll(kc: k8s.KubeConfig, ids: ValidatedIdentity[], requestedAt: string): Promise<string[]> {
  const errors: string[] = [];
  for (let i = 0; i < ids.length; i += PATCH_PARALLEL) {
    const batch = await Promise.all(ids.slice(i, i + PATCH_PARALLEL).map((mi) => annotate(kc, mi, requestedAt)));
    errors.push(...batch.filter((e): e is string => e !== undefined));
  }
  return errors;
}

const keyOf = (mi: ValidatedIdentity): string => `${mi.metadata.namespace ?? ''}/${mi.metadata.name ?? ''}`;

/** Poll until every selected identity was probed after the request, or the deadline; returns the latest read. */
async function waitForProbes(
  kc: k8s.KubeConfig,
  run: ValidateRun,
  selected: ValidatedIdentity[],
  requestedAt: string,
): Promise<ValidatedIdentity[]> {
  const sleep = run.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const wanted = new Set(selected.map(keyOf));
  const deadline = Date.now() + run.timeoutMs;
  let latest = selected;
  while (notProbedSince(latest, requestedAt).length > 0 && Date.now() < deadline) {
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
    // an identity deleted meanwhile drops out; one created meanwhile was not asked for
    latest = ((await select(kc, run)) ?? []).filter((mi) => wanted.has(keyOf(mi)));
  }
  return latest;
}

export async function runValidate(kc: k8s.KubeConfig, run: ValidateRun): Promise<ValidateOutcome> {
  const selected = await select(kc, run);
  if (!selected)
    return { stdout: '', stderr: `error: MachineIdentity ${run.namespace}/${run.name} not found\n`, exitCode: 1 };
  const requestedAt = requestTime(Date.now());
  const patchErrors = await annotateAll(kc, selected, requestedAt);
  const identities = run.wait ? await waitForProbes(kc, run, selected, requestedAt) : selected;
  const d = decideValidate(identities, { strict: run.strict });
  const present = new Set(identities.map(keyOf));
  const gone = selected.map(keyOf).filter((k) => !present.has(k));
  const notProbed = run.wait ? notProbedSince(identities, requestedAt) : [];
  const stderr = [
    ...patchErrors.map((e) => `error: ${e}`),
    ...d.warnings.map((w) => `warning: ${w}`),
    ...gone.map((k) => `warning: ${k} was deleted while waiting`),
    ...(notProbed.length
      ? [`error: timed out after ${run.timeoutMs / 1000}s waiting for a probe of: ${notProbed.join(', ')}`]
      : []),
  ];
  const exitCode = notProbed.length ? 3 : patchErrors.length ? Math.max(d.exitCode, 1) : d.exitCode;
  const stdout =
    run.output === 'json'
      ? `${JSON.stringify({ requestedAt, waited: run.wait, exitCode, notProbed, warnings: d.warnings, rows: d.rows }, null, 2)}\n`
      : formatValidateTable(d.rows);
  return { stdout, stderr: stderr.map((l) => `${l}\n`).join(''), exitCode };
}
