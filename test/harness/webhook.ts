// The chart's ValidatingWebhookConfiguration, rendered by the real helm, pointed at an operator that
// runs as a local process (clientConfig.url instead of the in-cluster Service). Used by the policy
// tests and `npm run dev`, so both exercise the configuration users install.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import type * as k8s from '@kubernetes/client-node';
import { REPO_ROOT } from './control-plane.ts';

export interface LocalWebhookOptions {
  binDir: string;
  /** metadata.name of the configuration (MIO_WEBHOOK_CONFIG_NAME). */
  name: string;
  /** https://127.0.0.1:<port> of the operator's webhook server. */
  baseUrl: string;
  failurePolicy?: 'Fail' | 'Ignore';
  /** Limit admission checks to these namespaces (so a shared test cluster is not affected). */
  namespaces?: string[];
}

export function localWebhookConfiguration(o: LocalWebhookOptions): k8s.V1ValidatingWebhookConfiguration {
  const home = mkdtempSync(join(tmpdir(), 'mio-helm-'));
  const args = [
    'template',
    'mio',
    join(REPO_ROOT, 'deploy/helm/machine-identity-operator'),
    '--namespace',
    'mio-system',
    '--show-only',
    'templates/webhook.yaml',
    '--set',
    `webhook.failurePolicy=${o.failurePolicy ?? 'Fail'}`,
  ];
  if (o.namespaces) {
    args.push(
      '--set-json',
      `webhook.namespaceSelector=${JSON.stringify({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: o.namespaces }] })}`,
    );
  }
  const out = execFileSync(join(o.binDir, 'helm'), args, {
    encoding: 'utf8',
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(home, 'c'),
      HELM_CONFIG_HOME: join(home, 'f'),
      HELM_DATA_HOME: join(home, 'd'),
    },
  });
  const vwc = yaml
    .loadAll(out)
    .find(
      (d) => (d as { kind?: string } | null)?.kind === 'ValidatingWebhookConfiguration',
    ) as k8s.V1ValidatingWebhookConfiguration;
  vwc.metadata = { name: o.name };
  for (const w of vwc.webhooks ?? []) {
    const path = w.clientConfig.service?.path ?? '/validate';
    w.clientConfig = { url: `${o.baseUrl}${path}` };
  }
  return vwc;
}
