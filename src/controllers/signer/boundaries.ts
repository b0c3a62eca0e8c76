// The boundaries both signers enforce before IssuancePolicy sees a request, pure: which namespace a
// requester belongs to (the pod's; the ServiceAccount's; the one the binding lists a non-ServiceAccount
// requester under), whether the binding's namespaceSelector selects it (decideAuthority, the rule
// MachineIdentities follow), whether a PodCertificateRequest agrees with the pod it names, and whether
// that namespace owns (or was granted) every name asked for (the safe defaults of src/policy/ownership.ts).
import { z } from 'zod';
import type { LabelSelector } from '../../policy/label-selector.ts';
import {
  ownershipDenial,
  ownershipFindings,
  type BindingForOwnership,
  type OwnershipScope,
} from '../../policy/ownership.ts';
import type { CertificateShape } from '../../policy/types.ts';
import { decideAuthority } from '../authority-access.ts';
import { SignerReason } from '../../crds/reasons.ts';
import type { PcrSpec, Refusal } from './pod-certificate.ts';

/** One entry of the binding's spec.signer.csrRequesters (the CRD guarantees exactly one of user or group). */
export interface CsrRequesterEntry {
  user?: string | undefined;
  group?: string | undefined;
  namespace: string;
}

/** Who asked, as the API server recorded it: spec.username and spec.groups of a CSR (set on create, never by the requester). */
export interface Requester {
  username: string;
  groups: readonly string[];
}

/** The requester fields of a CSR's spec, as read from the cluster: anything malformed counts as nobody (denied). */
export const CsrRequesterFields = z.object({
  username: z.string().max(1024).catch(''),
  groups: z.array(z.string().max(1024)).max(256).catch([]),
});

export type RequesterScope =
  { ok: true; namespace: string; via: 'ServiceAccount' | 'csrRequesters'; requester: string } | Refusal;

const SA_USER = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

/**
 * The ServiceAccount a requester is, or undefined. The ServiceAccount token authenticator (and
 * impersonation of a ServiceAccount) sets both the username and the group
 * system:serviceaccounts:<ns>; a username alone (a client certificate with that CN, say) is not
 * taken for a ServiceAccount.
 */
export function serviceAccountOf(r: Requester): { namespace: string; name: string } | undefined {
  const [, namespace, , name] = SA_USER.exec(r.username) ?? [];
  if (namespace === undefined || name === undefined) return undefined;
  return r.groups.includes(`system:serviceaccounts:${namespace}`) ? { namespace, name } : undefined;
}

const quote = (s: string): string => JSON.stringify(s.slice(0, 253));

/** The requester's description in messages: the username and its groups (system:authenticated left out: everyone has it). */
export function describeRequester(r: Requester): string {
  const groups = r.groups
    .filter((g) => g !== 'system:authenticated')
    .slice(0, 5)
    .map(quote);
  return `${quote(r.username)}${groups.length ? ` (groups ${groups.join(', ')})` : ''}`;
}

/**
 * The namespace a CSR's requester is answered for. A ServiceAccount: its own namespace, always (a
 * listing cannot move it). Anyone else: the first csrRequesters entry naming its user or one of its
 * groups; none = RequesterNotAllowed, with the entry that would admit it.
 */
export function csrRequesterScope(
  r: Requester,
  entries: readonly CsrRequesterEntry[],
  binding: string,
): RequesterScope {
  const sa = serviceAccountOf(r);
  if (sa)
    return {
      ok: true,
      namespace: sa.namespace,
      via: 'ServiceAccount',
      requester: `ServiceAccount ${sa.namespace}/${sa.name}`,
    };
  const hit = entries.find(
    (e) => (e.user !== undefined && e.user === r.username) || (e.group !== undefined && r.groups.includes(e.group)),
  );
  if (hit) {
    const by = hit.user !== undefined ? `user ${quote(hit.user)}` : `group ${quote(hit.group ?? '')}`;
    return {
      ok: true,
      namespace: hit.namespace,
      via: 'csrRequesters',
      requester: `${describeRequester(r)}, listed as ${by} in namespace ${quote(hit.namespace)}`,
    };
  }
  return {
    ok: false,
    reason: SignerReason.RequesterNotAllowed,
    message:
      `requester ${describeRequester(r)} is not a ServiceAccount and CertificateAuthorityBinding ${quote(binding)} does not list it in spec.signer.csrRequesters; ` +
      'a security team that wants it served adds {user: <name>} or {group: <group>} with the namespace whose names and IssuancePolicies apply to it',
  };
}

/**
 * Refusal when the binding's namespaceSelector does not select the namespace (absent or empty
 * selector = every namespace). `labels` undefined = the namespace is not known (no labels).
 */
export function namespaceRefusal(
  binding: { name: string; namespaceSelector?: LabelSelector | undefined },
  namespace: string,
  labels: Record<string, string> | undefined,
  what: string,
): Refusal | undefined {
  const view = binding.namespaceSelector
    ? { name: binding.name, namespaceSelector: binding.namespaceSelector }
    : { name: binding.name };
  const d = decideAuthority(binding.name, namespace, labels, new Map([[binding.name, view]]));
  if (d.allowed) return undefined;
  return {
    ok: false,
    reason: SignerReason.AuthorityNotAllowed,
    message:
      `${d.message} (namespaceSelector ${JSON.stringify(binding.namespaceSelector ?? {}).slice(0, 500)}), so it signs no ${what} there; ` +
      `label namespace ${quote(namespace)} to match, or ask the security team to widen the selector`,
  };
}

/** The pod as far as the check needs it. */
export interface PodView {
  metadata?: { uid?: string | undefined } | undefined;
  spec?: { serviceAccountName?: string | undefined; nodeName?: string | undefined } | undefined;
}

/**
 * Refusal when the pod a PodCertificateRequest names does not back it. NodeRestriction makes the
 * API server check this for requests created by nodes only; anyone else with create on
 * podcertificaterequests could name any ServiceAccount of the namespace, so the signer checks again:
 * the pod exists, with the request's UID, ServiceAccount and node.
 */
export function podMismatch(namespace: string, spec: PcrSpec, pod: PodView | undefined): Refusal | undefined {
  const at = `pod ${quote(`${namespace}/${spec.podName}`)}`;
  const refuse = (why: string): Refusal => ({
    ok: false,
    reason: SignerReason.PodMismatch,
    message: `${at} ${why}; the request does not describe a pod that exists`,
  });
  const why = pod ? podDiffers(spec, pod) : 'does not exist';
  return why === undefined ? undefined : refuse(why);
}

/** How an existing pod differs from the request: UID, then ServiceAccount, then node (when the request names one). */
function podDiffers(spec: PcrSpec, pod: PodView): string | undefined {
  if (pod.metadata?.uid !== spec.podUID) return `has UID ${quote(pod.metadata?.uid ?? '')}, not ${quote(spec.podUID)}`;
  const sa = pod.spec?.serviceAccountName || 'default';
  if (sa !== spec.serviceAccountName)
    return `runs as ServiceAccount ${quote(sa)}, not ${quote(spec.serviceAccountName)}`;
  return nodeDiffers(spec.nodeName, pod.spec?.nodeName);
}

/** A request that names a node must come from a pod on that node. */
function nodeDiffers(requested: string | undefined, actual: string | undefined): string | undefined {
  if (requested === undefined || actual === requested) return undefined;
  return `is on node ${quote(actual ?? '')}, not ${quote(requested)}`;
}

/**
 * Refusal when the request holds anything the scope's namespace does not own and no grant of the
 * binding allows (names, addresses, URIs, a CA certificate): the safe defaults MachineIdentities
 * obey, with the first broken rule as the reason.
 */
export function ownershipRefusal(
  shape: CertificateShape,
  binding: BindingForOwnership,
  scope: OwnershipScope,
): Refusal | undefined {
  const findings = ownershipFindings(shape, binding, scope);
  const first = findings[0];
  return first === undefined
    ? undefined
    : { ok: false, reason: first.rule, message: ownershipDenial(findings, binding.name) };
}
