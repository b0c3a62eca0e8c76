#!/usr/bin/env node
// kubectl mi: the operator's command line (a kubectl plugin: an executable named kubectl-mi on PATH).
import { parseArgs } from 'node:util';
import { readManifestFiles } from './manifests.ts';
import { checkManifests, exitCode, formatText } from './policy-check.ts';
import { collectInventory } from './inventory.ts';
import { formatCsv, formatTable, toRow, type InventoryRow } from './inventory-format.ts';
import { fleetInventory } from './fleet-inventory.ts';
import { formatStatus, identityStatus } from './status.ts';
import { runValidate } from './validate.ts';
import { kubeConfigFromEnv } from '../runtime/kube.ts';
import { parseDuration } from '../crds/index.ts';

const USAGE = `Usage: kubectl mi <command>

Commands:
  status <name> [-n <namespace>] [-o text|json]
      Everything about one MachineIdentity, and in plain words why it is or is not Ready.
  inventory [-A | -n <namespace>] [-o table|wide|json|csv] [--expiring-within 720h] [--non-compliant]
            [--context <name> ... | --all-contexts] [--parallel 4] [--cluster-timeout 60s]
      Every certificate you may read, managed or not: Secrets (PEM, DER, PKCS#12 with a known
      password), ConfigMaps and, with -A, webhook, APIService and CRD caBundles; where it is used,
      who owns it, whether a CA the operator runs signed it, and what the IssuancePolicies say.
      With --context (repeatable) or --all-contexts, several clusters of the kubeconfig are read in
      parallel and merged with a CLUSTER column (the context name); exit 4 when some could not be
      read (they are named on stderr and the others listed), 1 when none could.
  validate [<name>] [-n <namespace> | -A] [--wait] [--timeout 2m] [-o table|json] [--strict]
      Ask the operator to probe now what the identities' endpoints serve (TLS handshakes), and print
      each endpoint with its served and current serial and verdict. Exit 0 when all serve the current
      certificate (or nothing serves them), 1 when one is Stale, Expired, IncompleteChain or untrusted
      (Unreachable and Pending only warn, unless --strict), 3 when --wait timed out (docs/cli.md).
  policy check -f <file|dir> [-f ...] [--policies <file|dir>] [-o text|json]
               [--default-action Allow|Deny] [--cluster-domain cluster.local] [-n <namespace>]
      Evaluate MachineIdentity manifests against IssuancePolicies offline, exactly as the operator
      does. IssuancePolicies come from --policies and from the -f inputs; Namespace manifests supply
      namespace labels; CertificateAuthorityBindings among them supply grants (names a namespace
      does not own are denied unless its binding grants them). Exit 1 when an Enforce policy denies a manifest or one is invalid.
`;

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n\n${USAGE}`);
  process.exit(2);
}

export function policyCheck(argv: string[]): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        filename: { type: 'string', short: 'f', multiple: true },
        policies: { type: 'string', multiple: true },
        output: { type: 'string', short: 'o', default: 'text' },
        'default-action': { type: 'string', default: 'Allow' },
        namespace: { type: 'string', short: 'n', default: 'default' },
        'cluster-domain': { type: 'string', default: 'cluster.local' },
      },
      strict: true,
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (!values.filename?.length) fail('policy check needs -f <file|dir>');
  if (values.output !== 'text' && values.output !== 'json')
    fail(`-o must be text or json, not ${JSON.stringify(values.output)}`);
  const action = values['default-action'];
  if (action !== 'Allow' && action !== 'Deny')
    fail(`--default-action must be Allow or Deny, not ${JSON.stringify(action)}`);
  const targets = readManifestFiles(values.filename);
  const policies = readManifestFiles(values.policies ?? []);
  const report = checkManifests(targets.manifests, policies.manifests, [...targets.errors, ...policies.errors], {
    defaultAction: action,
    defaultNamespace: values.namespace,
    clusterDomain: values['cluster-domain'],
  });
  process.stdout.write(values.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatText(report));
  return exitCode(report);
}

function parseInventoryArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        'all-namespaces': { type: 'boolean', short: 'A', default: false },
        namespace: { type: 'string', short: 'n' },
        output: { type: 'string', short: 'o', default: 'table' },
        'expiring-within': { type: 'string' },
        'non-compliant': { type: 'boolean', default: false },
        kubeconfig: { type: 'string' },
        'owner-keys': { type: 'string', default: 'machineidentity.io/owner,owner,team' },
        context: { type: 'string', multiple: true },
        'all-contexts': { type: 'boolean', default: false },
        parallel: { type: 'string', default: '4' },
        'cluster-timeout': { type: 'string', default: '60s' },
      },
      strict: true,
    }).values;
  } catch (e) {
    return fail((e as Error).message);
  }
}

/** --expiring-within in milliseconds; undefined when not given. */
function expiringWithinMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  return ms ?? fail(`--expiring-within takes a duration such as 720h, not ${JSON.stringify(text)}`);
}

function kubeConfigFor(path: string | undefined): ReturnType<typeof kubeConfigFromEnv> {
  return kubeConfigFromEnv(path ? { ...process.env, KUBECONFIG: path } : process.env);
}

function contextNamespace(kc: ReturnType<typeof kubeConfigFromEnv>): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
}

function renderRows(output: string, rows: InventoryRow[]): string {
  if (output === 'json') return `${JSON.stringify({ certificates: rows }, null, 2)}\n`;
  return output === 'csv' ? formatCsv(rows) : formatTable(rows, { wide: output === 'wide' });
}

type InventoryValues = ReturnType<typeof parseInventoryArgs>;

/** Which rows to keep: --expiring-within and --non-compliant. */
function rowFilter(values: InventoryValues): (r: InventoryRow) => boolean {
  const within = expiringWithinMs(values['expiring-within']);
  return (r) =>
    (within === undefined || r.expiresInSeconds * 1000 <= within) && (!values['non-compliant'] || !r.compliant);
}

function ownerKeys(values: InventoryValues): string[] {
  return values['owner-keys']
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
}

/** The rows of one cluster: what `kc`'s current context may read, filtered. */
async function clusterRows(
  kc: ReturnType<typeof kubeConfigFromEnv>,
  values: InventoryValues,
  warn: (m: string) => void,
  signal?: AbortSignal,
): Promise<InventoryRow[]> {
  const namespace = values['all-namespaces'] ? undefined : (values.namespace ?? contextNamespace(kc));
  const entries = await collectInventory(kc, {
    namespace,
    ownerKeys: ownerKeys(values),
    warn,
    ...(signal ? { signal } : {}),
  });
  const now = Date.now();
  return entries.map((e) => toRow(e, now)).filter(rowFilter(values));
}

export async function inventory(argv: string[]): Promise<number> {
  const values = parseInventoryArgs(argv);
  if (!['table', 'wide', 'json', 'csv'].includes(values.output))
    fail(`-o must be table, wide, json or csv, not ${JSON.stringify(values.output)}`);
  rowFilter(values); // a bad --expiring-within is a usage error before any request
  if (values.context?.length || values['all-contexts']) return fleet(values);
  const rows = await clusterRows(kubeConfigFor(values.kubeconfig), values, (m) =>
    process.stderr.write(`warning: ${m}\n`),
  );
  process.stdout.write(
    renderRows(
      values.output,
      rows.sort((a, b) => a.expiresInSeconds - b.expiresInSeconds),
    ),
  );
  return 0;
}

async function fleet(values: InventoryValues): Promise<number> {
  if (values.context?.length && values['all-contexts']) fail('give --context or --all-contexts, not both');
  const parallel = Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64)
    fail(`--parallel takes a whole number from 1 to 64, not ${JSON.stringify(values.parallel)}`);
  const timeoutMs = parseDuration(values['cluster-timeout']);
  if (timeoutMs === undefined || timeoutMs <= 0)
    fail(`--cluster-timeout takes a duration such as 60s, not ${JSON.stringify(values['cluster-timeout'])}`);
  const r = await fleetInventory({
    kubeConfig: () => kubeConfigFor(values.kubeconfig),
    contexts: values.context ?? [],
    allContexts: values['all-contexts'],
    parallel,
    timeoutMs,
    output: values.output,
    read: (kc, warn, signal) => clusterRows(kc, values, warn, signal),
  });
  if (r.usageError) fail(r.usageError);
  process.stderr.write(r.stderr);
  process.stdout.write(r.stdout);
  return r.exitCode;
}

function parseStatusArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        output: { type: 'string', short: 'o', default: 'text' },
        kubeconfig: { type: 'string' },
      },
      strict: true,
    });
  } catch (e) {
    return fail((e as Error).message);
  }
}

export async function status(argv: string[]): Promise<number> {
  const { values, positionals } = parseStatusArgs(argv);
  const [name] = positionals;
  if (positionals.length !== 1 || name === undefined) fail('status takes one MachineIdentity name');
  const kc = kubeConfigFor(values.kubeconfig);
  const namespace = values.namespace ?? contextNamespace(kc);
  const r = await identityStatus(kc, namespace, name);
  if (!r) {
    process.stderr.write(`error: MachineIdentity ${namespace}/${name} not found\n`);
    return 1;
  }
  process.stdout.write(values.output === 'json' ? `${JSON.stringify(r, null, 2)}\n` : formatStatus(r));
  const ready = r.identity.status?.conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'True' ? 0 : 3;
}

function parseValidateArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A', default: false },
        wait: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '2m' },
        output: { type: 'string', short: 'o', default: 'table' },
        strict: { type: 'boolean', default: false },
        kubeconfig: { type: 'string' },
      },
      strict: true,
    });
  } catch (e) {
    return fail((e as Error).message);
  }
}

export async function validate(argv: string[]): Promise<number> {
  const { values, positionals } = parseValidateArgs(argv);
  if (positionals.length > 1) fail('validate takes at most one MachineIdentity name');
  const [name] = positionals;
  const all = values['all-namespaces'];
  if (all && (name !== undefined || values.namespace !== undefined))
    fail('-A selects every identity: give no name and no -n with it');
  if (values.output !== 'table' && values.output !== 'json')
    fail(`-o must be table or json, not ${JSON.stringify(values.output)}`);
  const timeoutMs = parseDuration(values.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0)
    fail(`--timeout takes a duration such as 2m, not ${JSON.stringify(values.timeout)}`);
  const kc = kubeConfigFor(values.kubeconfig);
  const r = await runValidate(kc, {
    ...(name === undefined ? {} : { name }),
    ...(all ? {} : { namespace: values.namespace ?? contextNamespace(kc) }),
    wait: values.wait,
    timeoutMs,
    output: values.output,
    strict: values.strict,
  });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.exitCode;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cmd === 'policy' && sub === 'check') return policyCheck(rest);
  if (cmd === 'inventory') return inventory(argv.slice(1));
  if (cmd === 'status') return status(argv.slice(1));
  if (cmd === 'validate') return validate(argv.slice(1));
  return fail(`unknown command ${JSON.stringify([cmd, sub].filter(Boolean).join(' '))}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
