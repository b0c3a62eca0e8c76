// `kubectl mi status <name>`: everything about one MachineIdentity and, in plain words, why it is or
// is not Ready. Reads with the caller's credentials; what it may not read is left out, not fatal.
import type * as k8s from '@kubernetes/client-node';
import { getJsonOrNotFound } from '../runtime/kube.ts';
import { Reason, ServedReasonHelp } from '../crds/reasons.ts';
import { parseCertificate, splitPem } from '../pki/certs.ts';
import type { ServedStatus } from './validate-decision.ts';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime?: string;
}
interface Identity {
  metadata: k8s.V1ObjectMeta;
  spec?: Record<string, unknown> & { secretName?: string; authorityRef?: { name?: string }; owner?: { team?: string } };
  status?: {
    conditions?: Condition[];
    revision?: number;
    notAfter?: string;
    renewalTime?: string;
    serialNumber?: string;
    failedIssuanceAttempts?: number;
    lastFailureTime?: string;
    served?: ServedStatus;
  };
}

/** What a Ready reason means and what to do about it. */
const EXPLAIN: Record<string, string> = {
  [Reason.Ready]:
    "The certificate in the Secret is valid, matches the spec and comes from the authority's current CA. Nothing to do.",
  [Reason.PolicyDenied]:
    'An Enforce IssuancePolicy refuses this request, so no certificate is issued (an existing one is left as it is). Change the spec so it complies, or ask the owner of the policy named in the message.',
  [Reason.NameNotOwned]:
    "The request names something this namespace does not own (another namespace's name, an IP address, a public name, localhost, kubernetes.default.svc) and the CertificateAuthorityBinding grants it nothing more. Use names of this namespace, or ask the security team for a grant (spec.grants, docs/security.md).",
  [Reason.WildcardNotGranted]:
    'Wildcard certificates need a grant with allowWildcards on the CertificateAuthorityBinding. List the names instead, or ask the security team for a grant.',
  [Reason.CANotGranted]:
    "A CA certificate needs a grant with allowCA on the CertificateAuthorityBinding; it is then limited to path length 0 and this namespace's names. Ask the security team, or request a leaf certificate.",
  [Reason.CertificateReplaced]:
    'The Secret held a certificate the operator did not issue for this identity (someone replaced tls.crt/tls.key); a new one is being issued. Find out who wrote the Secret (audit log).',
  [Reason.SecretConflict]:
    'The Secret was created or changed by someone else while a certificate was being issued; nothing was overwritten and the identity is looked at again.',
  [Reason.SecretForbidden]:
    "The operator may not write Secrets in this namespace: the platform team adds it to the chart's rbac.secrets.namespaces (or sets rbac.secrets.scope: cluster).",
  [Reason.InvalidSpec]:
    'The spec cannot be used as it is; the message names the field. Fix the manifest and apply it again.',
  [Reason.AuthorityNotFound]:
    'spec.authorityRef names a CertificateAuthorityBinding that does not exist. Check the name with `kubectl get cab`.',
  [Reason.AuthorityNotAllowed]:
    'The CertificateAuthorityBinding does not serve this namespace (its namespaceSelector). Use another authority or ask its owner to add the namespace.',
  [Reason.AuthorityNotReady]:
    'The CertificateAuthorityBinding is not Ready (its CA is missing, invalid, expired or unreachable); the message says why. The identity is issued as soon as it recovers.',
  [Reason.SecretNotOwned]:
    'A Secret with spec.secretName already exists and the operator did not create it; it is never overwritten. Delete it or choose another secretName.',
  [Reason.Denied]: "The CA refused the request; the message has the CA's own words. Retries back off up to an hour.",
  [Reason.Failed]:
    'Issuing failed (the CA was unreachable or returned something unusable); it is retried with backoff, see the Issuing condition.',
};

export interface StatusReport {
  identity: Identity;
  authority?: { ready?: Condition; backend?: string };
  certificate?: Record<string, unknown>;
  events: { type?: string; reason?: string; message?: string; at?: string }[];
  explanation: string;
}

async function authorityOf(kc: k8s.KubeConfig, name: string | undefined): Promise<StatusReport['authority']> {
  if (!name) return undefined;
  const b = await getJsonOrNotFound<{ spec?: Record<string, unknown>; status?: { conditions?: Condition[] } }>(
    kc,
    `/apis/machineidentity.io/v1alpha1/certificateauthoritybindings/${encodeURIComponent(name)}`,
    {},
  ).catch(() => undefined);
  if (!b) return undefined;
  return {
    ready: b.status?.conditions?.find((c) => c.type === 'Ready'),
    backend: Object.keys(b.spec ?? {}).find((k) => BACKENDS.includes(k)),
  };
}
const BACKENDS = ['ca', 'selfSigned', 'acme', 'vault', 'stepCA', 'cfssl', 'kubernetes'];

async function certificateOf(
  kc: k8s.KubeConfig,
  namespace: string,
  secretName: string | undefined,
): Promise<Record<string, unknown> | undefined> {
  if (!secretName) return undefined;
  const s = await getJsonOrNotFound<k8s.V1Secret>(
    kc,
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(secretName)}`,
    {},
  ).catch(() => undefined);
  const crt = s?.data?.['tls.crt'];
  if (!crt) return undefined;
  try {
    const f = parseCertificate(splitPem(Buffer.from(crt, 'base64').toString('utf8'))[0] ?? '');
    return {
      subject: f.subjectDN,
      issuer: f.issuerDN,
      serialNumber: f.serialNumber,
      notBefore: f.notBefore.toISOString(),
      notAfter: f.notAfter.toISOString(),
      dnsNames: f.dnsNames,
      ipAddresses: f.ipAddresses,
      uris: f.uris,
      keyAlgorithm: f.keyAlgorithm,
      keySize: f.keySize,
      signatureAlgorithm: f.signatureAlgorithm,
    };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

async function eventsOf(kc: k8s.KubeConfig, namespace: string, name: string): Promise<StatusReport['events']> {
  const ev = await getJsonOrNotFound<{ items?: k8s.CoreV1Event[] }>(
    kc,
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
    { fieldSelector: `involvedObject.kind=MachineIdentity,involvedObject.name=${name}` },
  ).catch(() => undefined);
  return (ev?.items ?? [])
    .map((e) => ({
      type: e.type,
      reason: e.reason,
      message: e.message,
      at: String(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? ''),
    }))
    .sort((a, b) => (a.at < b.at ? -1 : 1))
    .slice(-10);
}

export async function identityStatus(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
): Promise<StatusReport | undefined> {
  const mi = await getJsonOrNotFound<Identity>(
    kc,
    `/apis/machineidentity.io/v1alpha1/namespaces/${encodeURIComponent(namespace)}/machineidentities/${encodeURIComponent(name)}`,
    {},
  );
  if (!mi) return undefined;
  const ready = mi.status?.conditions?.find((c) => c.type === 'Ready');
  const report: StatusReport = {
    identity: mi,
    events: await eventsOf(kc, namespace, name),
    explanation: ready ? (EXPLAIN[ready.reason] ?? ready.message) : 'Not reconciled yet: is the operator running?',
  };
  const authority = await authorityOf(kc, mi.spec?.authorityRef?.name);
  if (authority) report.authority = authority;
  const certificate = await certificateOf(kc, namespace, mi.spec?.secretName);
  if (certificate) report.certificate = certificate;
  return report;
}

function certificateLines(c: Record<string, unknown> | undefined): string[] {
  if (!c) return [];
  if ('error' in c) return [`  Certificate:     unreadable (${String(c.error)})`];
  const list = (v: unknown): string => (v as string[]).join(', ') || '-';
  return [
    `  Certificate:     ${String(c.subject)} from ${String(c.issuer)}, serial ${String(c.serialNumber)}`,
    `                   ${String(c.keyAlgorithm)}${c.keySize ? `-${String(c.keySize)}` : ''}, ${String(c.signatureAlgorithm)}, valid ${String(c.notBefore)} to ${String(c.notAfter)}`,
    `                   DNS ${list(c.dnsNames)}; IP ${list(c.ipAddresses)}; URI ${list(c.uris)}`,
  ];
}

function authorityLine(mi: Identity, a: StatusReport['authority']): string {
  const state = a
    ? ` (${a.backend ?? 'unknown backend'}, Ready ${a.ready?.status ?? 'Unknown'}${a.ready && a.ready.status !== 'True' ? `: ${a.ready.message}` : ''})`
    : '';
  return `  Authority:       ${mi.spec?.authorityRef?.name ?? '-'}${state}`;
}

export function formatStatus(r: StatusReport): string {
  const mi = r.identity;
  const st = mi.status ?? {};
  const l: string[] = [
    `MachineIdentity ${mi.metadata.namespace}/${mi.metadata.name}`,
    ...conditionLines(st.conditions ?? []),
  ];
  l.push(
    '',
    `  Why: ${r.explanation}`,
    '',
    authorityLine(mi, r.authority),
    `  Secret:          ${mi.spec?.secretName ?? '-'} (revision ${st.revision ?? 0})`,
    `  Owner:           ${mi.spec?.owner?.team ?? '-'}`,
    ...certificateLines(r.certificate),
    ...scheduleLines(st),
    ...servedLines(st),
  );

  if (r.events.length)
    l.push(
      '',
      '  Recent events:',
      ...r.events.map((e) => `    ${e.at}  ${e.type ?? ''}  ${e.reason ?? ''}  ${e.message ?? ''}`),
    );
  return `${l.join('\n')}\n`;
}

function conditionLines(
  conditions: readonly { type: string; status: string; reason?: string; message?: string }[],
): string[] {
  return conditions
    .filter((x) => ['Ready', 'Issuing', 'PolicyCompliant', 'Served'].includes(x.type))
    .map((c) => `  ${`${c.type}:`.padEnd(17)}${c.status}  ${c.reason}  ${c.message}`);
}

function scheduleLines(st: NonNullable<Identity['status']>): string[] {
  const l: string[] = [];
  if (st.renewalTime) l.push(`  Renews at:       ${st.renewalTime}`);
  if (st.failedIssuanceAttempts)
    l.push(`  Failed attempts: ${st.failedIssuanceAttempts}, last at ${st.lastFailureTime ?? '?'}`);
  return l;
}

const servedHelp = (reason: string): string | undefined =>
  Object.entries(ServedReasonHelp).find(([k]) => k === reason)?.[1];

function endpointLine(e: NonNullable<ServedStatus['endpoints']>[number]): string {
  const addr = e.address.includes(':') ? `[${e.address}]` : e.address;
  const sni = e.sni ? ` (SNI ${e.sni})` : '';
  const serial = e.servedSerialNumber ? ` serial ${e.servedSerialNumber}` : '';
  const why = e.message ? `: ${e.message}` : '';
  return `    ${e.verdict.padEnd(15)} ${e.source} ${e.object} ${addr}:${e.port}${sni}${serial}${why}`;
}

function endpointLines(served: ServedStatus | undefined): string[] {
  if (!served) return [];
  const endpoints = served.endpoints ?? [];
  const total = served.endpointCount ?? endpoints.length;
  const more = total > endpoints.length ? [`    ... and ${total - endpoints.length} more (not listed in status)`] : [];
  return [
    '',
    `  Served at (${total} endpoint${total === 1 ? '' : 's'}, probed ${served.lastProbeTime ?? 'never'}):`,
    ...endpoints.map(endpointLine),
    ...more,
  ];
}

/** Where the certificate is served and what each endpoint served at the last probe (status.served), and what to do. */
function servedLines(st: NonNullable<Identity['status']>): string[] {
  const c = st.conditions?.find((x) => x.type === 'Served');
  const help = c && c.status !== 'True' ? servedHelp(c.reason) : undefined;
  return [...endpointLines(st.served), ...(help ? [`  Served: ${help}`] : [])];
}
