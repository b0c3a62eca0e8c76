// The three kinds: everything that makes a CRD besides the schema bodies (names, scope, printer columns)
// plus the whole-object zod schemas used for in-process parsing.
import { z } from 'zod';
import { API_VERSION } from './common.ts';
import { ObjectMeta } from './meta.ts';
import { MachineIdentitySpec, MachineIdentityStatus } from './machine-identity.ts';
import { CertificateAuthorityBindingSpec } from './certificate-authority-binding.ts';
import { CertificateAuthorityBindingStatus } from './certificate-authority-binding-status.ts';
import { IssuancePolicySpec, IssuancePolicyStatus } from './issuance-policy.ts';

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  listKind: string;
  shortNames: string[];
  categories: string[];
  scope: 'Namespaced' | 'Cluster';
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  /** Tighter bound on metadata.name than the 253 characters of a DNS-1123 subdomain. */
  maxNameLength?: number;
  printerColumns: PrinterColumn[];
}

// `kubectl get machine-identity` lists all three kinds. A category must not be any resource's name:
// kubectl expands a category before it looks for a resource, so the former `machineidentity` (also
// MachineIdentity's singular) turned `kubectl get machineidentity web` into a three-kind request.
const CATEGORIES = ['machine-identity'];
const READY: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: 'Ready condition status',
};
const REASON: PrinterColumn = {
  name: 'Reason',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  description: 'Ready condition reason',
  priority: 1,
};
const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
// kubectl renders a `date` column as the age of a past time and a future time as `<invalid>`: times
// still ahead (expiry, renewal) are `string` columns, shown as the RFC 3339 timestamp itself.
/** Status fields that hold a future time: never a `date` column (a unit test checks every kind). */
export const FUTURE_TIME_FIELDS = ['.status.notAfter', '.status.renewalTime', '.status.caNotAfter'] as const;

export const MACHINE_IDENTITY: KindDefinition = {
  kind: 'MachineIdentity',
  plural: 'machineidentities',
  singular: 'machineidentity',
  listKind: 'MachineIdentityList',
  shortNames: ['mi'],
  categories: CATEGORIES,
  scope: 'Namespaced',
  description:
    'One TLS machine identity: a private key generated in the cluster, a certificate from a CA, kept in a Secret and renewed before it expires.',
  spec: MachineIdentitySpec,
  status: MachineIdentityStatus,
  maxNameLength: 63, // the name is the value of the machineidentity.io/identity label on the Secret
  printerColumns: [
    READY,
    {
      name: 'Secret',
      type: 'string',
      jsonPath: '.spec.secretName',
      description: 'Secret holding the certificate and key',
    },
    {
      name: 'Authority',
      type: 'string',
      jsonPath: '.spec.authorityRef.name',
      description: 'CertificateAuthorityBinding that issues it',
    },
    {
      name: 'Expiry',
      type: 'string',
      jsonPath: '.status.notAfter',
      description: 'When the current certificate expires (RFC 3339)',
    },
    {
      name: 'Renewal',
      type: 'string',
      jsonPath: '.status.renewalTime',
      description: 'When it will be renewed (RFC 3339)',
      priority: 1,
    },
    { name: 'Team', type: 'string', jsonPath: '.spec.owner.team', description: 'Owning team', priority: 1 },
    REASON,
    AGE,
  ],
};

export const CERTIFICATE_AUTHORITY_BINDING: KindDefinition = {
  kind: 'CertificateAuthorityBinding',
  plural: 'certificateauthoritybindings',
  singular: 'certificateauthoritybinding',
  listKind: 'CertificateAuthorityBindingList',
  shortNames: ['cab'],
  categories: CATEGORIES,
  scope: 'Cluster',
  description: 'One certificate authority, how to reach it, and which namespaces may use it. Exactly one backend.',
  spec: CertificateAuthorityBindingSpec,
  status: CertificateAuthorityBindingStatus,
  printerColumns: [
    READY,
    { name: 'Backend', type: 'string', jsonPath: '.status.backend', description: 'Which CA backend is in use' },
    {
      name: 'Identities',
      type: 'integer',
      jsonPath: '.status.identities',
      description: 'MachineIdentities it currently backs',
    },
    {
      name: 'CA Expiry',
      type: 'string',
      jsonPath: '.status.caNotAfter',
      description: 'When the CA certificate expires (RFC 3339)',
      priority: 1,
    },
    REASON,
    AGE,
  ],
};

export const ISSUANCE_POLICY: KindDefinition = {
  kind: 'IssuancePolicy',
  plural: 'issuancepolicies',
  singular: 'issuancepolicy',
  listKind: 'IssuancePolicyList',
  shortNames: ['ipol'],
  categories: CATEGORIES,
  scope: 'Cluster',
  description:
    'What may be issued, and what a discovered certificate must look like. Every policy whose selector matches must allow a request.',
  spec: IssuancePolicySpec,
  status: IssuancePolicyStatus,
  printerColumns: [
    READY,
    { name: 'Enforcement', type: 'string', jsonPath: '.spec.enforcement', description: 'Enforce or Audit' },
    { name: 'Violations', type: 'integer', jsonPath: '.status.violations', description: 'Current violations' },
    {
      name: 'Matched',
      type: 'integer',
      jsonPath: '.status.matchedIdentities',
      description: 'MachineIdentities the selector matches',
      priority: 1,
    },
    AGE,
  ],
};

export const KINDS: readonly KindDefinition[] = [MACHINE_IDENTITY, CERTIFICATE_AUTHORITY_BINDING, ISSUANCE_POLICY];

/** The whole object as zod sees it: apiVersion/kind pinned, metadata loose, spec required, status optional. */
function objectSchema<Spec extends z.ZodType, Status extends z.ZodType>(
  def: KindDefinition,
  spec: Spec,
  status: Status,
) {
  return z.object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(def.kind),
    metadata: ObjectMeta.extend({
      name: z
        .string()
        .min(1)
        .max(def.maxNameLength ?? 253),
    }),
    spec,
    status: status.optional(),
  });
}

export const MachineIdentitySchema = objectSchema(MACHINE_IDENTITY, MachineIdentitySpec, MachineIdentityStatus);
export const CertificateAuthorityBindingSchema = objectSchema(
  CERTIFICATE_AUTHORITY_BINDING,
  CertificateAuthorityBindingSpec,
  CertificateAuthorityBindingStatus,
);
export const IssuancePolicySchema = objectSchema(ISSUANCE_POLICY, IssuancePolicySpec, IssuancePolicyStatus);

export type MachineIdentity = z.infer<typeof MachineIdentitySchema>;
export type CertificateAuthorityBinding = z.infer<typeof CertificateAuthorityBindingSchema>;
export type IssuancePolicy = z.infer<typeof IssuancePolicySchema>;
