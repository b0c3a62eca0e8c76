#!/usr/bin/env node
// kubectl mi: the operator's command line (a kubectl plugin: an executable named kubectl-mi on PATH).
import { parseArgs } from 'node:util';
import { readManifestFiles } from './manifests.ts';
import { checkManifests, exitCode, formatText } from './policy-check.ts';

const USAGE = `Usage: kubectl mi <command>

Commands:
  policy check -f <file|dir> [-f ...] [--policies <file|dir>] [-o text|json]
               [--default-action Allow|Deny] [-n <namespace>]
      Evaluate MachineIdentity manifests against IssuancePolicies offline, exactly as the operator
      does. IssuancePolicies come from --policies and from the -f inputs; Namespace manifests supply
      namespace labels. Exit 1 when an Enforce policy denies a manifest or one is invalid.
`;

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n\n${USAGE}`);
  process.exit(2);
}

export function policyCheck(argv: string[]): number {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: {
      filename: { type: 'string', short: 'f', multiple: true },
      policies: { type: 'string', multiple: true },
      output: { type: 'string', short: 'o', default: 'text' },
      'default-action': { type: 'string', default: 'Allow' },
      namespace: { type: 'string', short: 'n', default: 'default' },
    }, strict: true }));
  } catch (e) { fail((e as Error).message); }
  if (!values.filename?.length) fail('policy check needs -f <file|dir>');
  if (values.output !== 'text' && values.output !== 'json') fail(`-o must be text or json, not ${JSON.stringify(values.output)}`);
  const action = values['default-action'];
  if (action !== 'Allow' && action !== 'Deny') fail(`--default-action must be Allow or Deny, not ${JSON.stringify(action)}`);
  const targets = readManifestFiles(values.filename);
  const policies = readManifestFiles(values.policies ?? []);
  const report = checkManifests(targets.manifests, policies.manifests, [...targets.errors, ...policies.errors],
    { defaultAction: action, defaultNamespace: values.namespace });
  process.stdout.write(values.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatText(report));
  return exitCode(report);
}

export function main(argv: string[]): number {
  const [cmd, sub, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') { process.stdout.write(USAGE); return 0; }
  if (cmd === 'policy' && sub === 'check') return policyCheck(rest);
  return fail(`unknown command ${JSON.stringify([cmd, sub].filter(Boolean).join(' '))}`);
}

process.exitCode = main(process.argv.slice(2));
