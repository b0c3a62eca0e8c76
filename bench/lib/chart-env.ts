// The operator as the Helm chart installs it, for a benchmark that runs it as a local process: its
// environment (every MIO_* setting and NODE_OPTIONS) is read from what the real helm renders with the
// chart's defaults, and its ValidatingWebhookConfiguration likewise, pointed at the local process by URL.
// The chart is the one source of truth: nothing here restates a chart default.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import type * as k8s from '@kubernetes/client-node';
import { REPO_ROOT } from '../../test/harness/control-plane.ts';

const CHART = join(REPO_ROOT, 'deploy/helm/machine-identity-operator');

type Obj = { kind?: string; metadata?: { name?: string }; [k: string]: unknown };

/** `helm template <release> <chart>` with `--set` values; the rendered objects (comment-only documents dropped). */
export function renderChart(helm: string, release: string, namespace: string, set: string[] = []): Obj[] {
  const home = mkdtempSync(join(tmpdir(), 'mio-helm-'));
  const out = execFileSync(
    helm,
    ['template', release, CHART, '--namespace', namespace, ...set.flatMap((s) => ['--set', s])],
    {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(home, 'c'),
        HELM_CONFIG_HOME: join(home, 'f'),
        HELM_DATA_HOME: join(home, 'd'),
      },
    },
  );
  return yaml.loadAll(out).filter((d): d is Obj => typeof d === 'object' && d !== null && 'kind' in d);
}

/** What a fieldRef resolves to in the pod the chart describes (the bench stands in for the kubelet). */
export type FieldRefs = Record<string, string>;

/**
 * The operator container's environment from the rendered Deployment: `value`s as they are, `fieldRef`s
 * from `fieldRefs` (metadata.namespace, metadata.name, status.podIP). Any other source (a Secret, a
 * ConfigMap) is an error: the bench could not reproduce it.
 */
export function operatorEnv(objects: Obj[], fieldRefs: FieldRefs, container = 'operator'): Record<string, string> {
  const dep = objects.find((o) => o.kind === 'Deployment') as k8s.V1Deployment | undefined;
  const c = dep?.spec?.template.spec?.containers.find((x) => x.name === container);
  if (!c) throw new Error(`the chart renders no Deployment with a container named ${container}`);
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) {
      const v = fieldRefs[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`env ${e.name}: no value for fieldRef ${e.valueFrom.fieldRef.fieldPath}`);
      env[e.name] = v;
    } else throw new Error(`env ${e.name}: only value and fieldRef can be reproduced outside a cluster`);
  }
  return env;
}

/**
 * The rendered ValidatingWebhookConfiguration with every webhook's clientConfig pointed at `baseUrl`
 * (keeping the Service's path), as the API server must reach a local process; the operator fills in the caBundle.
 */
export function localWebhook(objects: Obj[], baseUrl: string): k8s.V1ValidatingWebhookConfiguration {
  const found = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration');
  if (!found) throw new Error('the chart renders no ValidatingWebhookConfiguration (webhook.enabled=false?)');
  const vwc = structuredClone(found) as unknown as k8s.V1ValidatingWebhookConfiguration;
  for (const w of vwc.webhooks ?? []) w.clientConfig = { url: `${baseUrl}${w.clientConfig.service?.path ?? ''}` };
  return vwc;
}

/** `chart.<key>=<value>` bench parameters as helm `--set key=value` arguments (e.g. chart.workers=32). */
export function chartSets(params: Record<string, string>): string[] {
  return Object.entries(params)
    .filter(([k]) => k.startsWith('chart.'))
    .map(([k, v]) => `${k.slice('chart.'.length)}=${v}`);
}
