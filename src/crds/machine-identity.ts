// over 300 lines: the MachineIdentity schema, one table of fields with their rules and documentation
// MachineIdentity (namespaced, short name `mi`): one TLS identity kept in a Secret.
import { z } from 'zod';
import {
  DNS_NAME,
  mapList,
  setList,
  duration,
  IPAddress,
  LocalObjectReference,
  objectName,
  parseDuration,
  SecretKeySelector,
  SHA256_FINGERPRINT,
  stringMap,
  withRules,
} from './common.ts';
import { conditions, ObservedGeneration, timestamp } from './meta.ts';
import type { Rule } from './common.ts';
import { USAGE_NAMES } from '../pki/usages.ts';

export const DEFAULT_DURATION = '2160h';
const MIN_DURATION = '10m';
const MIN_RENEW_BEFORE = '5m';

export const KeyAlgorithm = z.enum(['ECDSA', 'RSA', 'Ed25519']);
export type KeyAlgorithm = z.infer<typeof KeyAlgorithm>;

/** Key sizes per algorithm; Ed25519 has none. The first one is what an unset size means. */
export const KEY_SIZES: Readonly<Record<KeyAlgorithm, readonly number[]>> = {
  ECDSA: [256, 384, 521],
  RSA: [2048, 3072, 4096],
  Ed25519: [],
};

export const KeyUsage = z.enum(USAGE_NAMES);
export type KeyUsage = z.infer<typeof KeyUsage>;

/** Rule shared by every place that names a key algorithm and size. */
export const keySizeRule: Rule<{ algorithm: KeyAlgorithm; size?: number | undefined }> = {
  rule: "!has(self.size) || (self.?algorithm.orValue('ECDSA') == 'ECDSA' && self.size in [256, 384, 521]) || (self.?algorithm.orValue('ECDSA') == 'RSA' && self.size in [2048, 3072, 4096])",
  message: 'size must be 256, 384 or 521 for ECDSA and 2048, 3072 or 4096 for RSA; Ed25519 takes no size',
  fieldPath: '.size',
  check: (k) => k.size === undefined || KEY_SIZES[k.algorithm].includes(k.size),
};

export const keyAlgorithmField = KeyAlgorithm.default('ECDSA').describe('Key algorithm: ECDSA, RSA or Ed25519.');
export const keySizeField = z
  .int()
  .min(256)
  .max(8192)
  .optional()
  .describe(
    'Key size: ECDSA 256 (default), 384 or 521 (P-256, P-384, P-521); RSA 2048 (default), 3072 or 4096; unset for Ed25519.',
  );

const PrivateKey = withRules(
  z.object({
    algorithm: keyAlgorithmField,
    size: keySizeField,
    rotationPolicy: z
      .enum(['Always', 'Never'])
      .default('Always')
      .describe('Always generates a new key on every renewal; Never keeps the key in the Secret.'),
    encoding: z
      .enum(['PKCS8', 'PKCS1', 'SEC1'])
      .default('PKCS8')
      .describe('PEM encoding of tls.key: PKCS8 for any key, PKCS1 for RSA only, SEC1 for ECDSA only.'),
  }),
  [
    keySizeRule,
    {
      rule: "self.?encoding.orValue('PKCS8') != 'PKCS1' || self.?algorithm.orValue('ECDSA') == 'RSA'",
      message: 'encoding PKCS1 is only for RSA keys',
      fieldPath: '.encoding',
      check: (k) => k.encoding !== 'PKCS1' || k.algorithm === 'RSA',
    },
    {
      rule: "self.?encoding.orValue('PKCS8') != 'SEC1' || self.?algorithm.orValue('ECDSA') == 'ECDSA'",
      message: 'encoding SEC1 is only for ECDSA keys',
      fieldPath: '.encoding',
      check: (k) => k.encoding !== 'SEC1' || k.algorithm === 'ECDSA',
    },
  ],
).describe('The private key generated in the cluster. It never leaves the Secret.');

const names = (max: number, item: z.ZodString, description: string) =>
  z.array(item).max(max).optional().meta({ 'x-kubernetes-list-type': 'atomic' }).describe(description);

const Subject = z
  .object({
    commonName: z
      .string()
      .max(64)
      .optional()
      .describe('Common name (CN), at most 64 characters. Prefer dnsNames for host names.'),
    organizations: names(10, z.string().max(64), 'Organizations (O).'),
    organizationalUnits: names(10, z.string().max(64), 'Organizational units (OU).'),
    countries: names(10, z.string().regex(/^[A-Za-z]{2}$/), 'Two-letter country codes (C).'),
    localities: names(10, z.string().max(128), 'Localities (L).'),
    provinces: names(10, z.string().max(128), 'States or provinces (ST).'),
    serialNumber: z.string().max(64).optional().describe('Subject serial number attribute.'),
  })
  .describe('X.509 subject of the certificate.');

const Workload = z.object({
  kind: z
    .enum(['Deployment', 'StatefulSet', 'DaemonSet'])
    .describe('Workload kind: Deployment, StatefulSet or DaemonSet.'),
  name: objectName("Workload name, in the MachineIdentity's namespace."),
});

const specShape = {
  secretName: objectName(
    'Name of the Secret (type kubernetes.io/tls) that holds tls.crt, tls.key and ca.crt. Must be a DNS-1123 subdomain. The Secret is never taken over if something else created it.',
  ),
  authorityRef: LocalObjectReference.describe('The CertificateAuthorityBinding that issues this identity.'),
  owner: z
    .object({
      team: z
        .string()
        .min(1)
        .max(63)
        .regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/)
        .optional()
        .describe(
          'Owning team (label-value syntax); the owner_team metric label and the machineidentity.io/owner-team annotation.',
        ),
      contact: z.string().max(256).optional().describe('Who to call when it breaks (e-mail, chat channel, pager).'),
    })
    .optional()
    .describe('Who owns this identity (inventory and alerts).'),
  subject: Subject.optional(),
  dnsNames: setList(z.string().max(253).regex(DNS_NAME), 100)
    .optional()
    .describe('DNS subject alternative names (at most 100); a leading *. makes a wildcard.'),
  ipAddresses: setList(IPAddress, 32).optional().describe('IP address subject alternative names (at most 32).'),
  uris: setList(
    z
      .string()
      .max(1024)
      .regex(/^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]+$/),
    32,
  )
    .optional()
    .describe('URI subject alternative names (at most 32), e.g. spiffe://cluster.local/ns/payments/sa/api.'),
  emailAddresses: setList(
    z
      .string()
      .max(254)
      .regex(/^[^@\s]+@[^@\s]+$/),
    32,
  )
    .optional()
    .describe('E-mail subject alternative names (at most 32).'),
  usages: setList(KeyUsage, 19).min(1).default(['serverAuth']).describe('Key usages and extended key usages.'),
  isCA: z.boolean().default(false).describe('Issue a CA certificate (basicConstraints CA:TRUE).'),
  duration: duration(
    `Requested lifetime of the certificate (Go duration, at least 10m). Unset: ${DEFAULT_DURATION}, shortened to the tightest maxDuration of the IssuancePolicies that select the identity. The authority may cap it at its maxDuration.`,
    MIN_DURATION,
  ).optional(),
  renewBefore: duration(
    'Renew this long before notAfter (at least 5m, shorter than duration). Mutually exclusive with renewBeforePercentage; when neither is set the identity renews at 2/3 of its lifetime.',
    MIN_RENEW_BEFORE,
  ).optional(),
  renewBeforePercentage: z
    .int()
    .min(1)
    .max(99)
    .optional()
    .describe('Renew when this percentage of the lifetime remains. Mutually exclusive with renewBefore.'),
  privateKey: PrivateKey.prefault({}),
  keystores: z
    .object({
      pkcs12: z
        .object({
          passwordSecretRef: SecretKeySelector.describe('Secret key that holds the keystore password.'),
        })
        .optional()
        .describe('Adds keystore.p12 and truststore.p12 to the Secret.'),
    })
    .optional()
    .describe('Additional keystore formats written into the Secret.'),
  secretTemplate: z
    .object({
      labels: stringMap(32, 63, 'Labels copied onto the Secret.').optional(),
      annotations: stringMap(32, 4096, 'Annotations copied onto the Secret.').optional(),
    })
    .optional()
    .describe('Labels and annotations for the Secret.'),
  deletionPolicy: z
    .enum(['Delete', 'Retain'])
    .default('Delete')
    .describe(
      'Delete removes the Secret (and revokes the certificate where the CA can) when the MachineIdentity is deleted; Retain keeps both.',
    ),
  rollout: z
    .object({
      workloads: mapList(Workload, 32, ['kind', 'name'])
        .optional()
        .describe('Workloads restarted (rolling) after each renewal.'),
      restartWhenStaleAfter: duration(
        'Restart the workload of an endpoint that still serves a replaced certificate this long after the renewal (validation, the Served condition); at most once per renewal and endpoint workload. Needs the chart value rbac.rollout. Unset: report only.',
        '1m',
      ).optional(),
    })
    .optional()
    .describe('Restart workloads that do not reload certificates by themselves.'),
};

type SpecOut = z.output<z.ZodObject<typeof specShape>>;

const hasIdentity = (s: SpecOut): boolean =>
  Boolean(s.subject?.commonName) ||
  [s.dnsNames, s.ipAddresses, s.uris, s.emailAddresses].some((l) => (l?.length ?? 0) > 0);

export const MachineIdentitySpec = withRules(z.object(specShape), [
  {
    rule: '!(has(self.renewBefore) && has(self.renewBeforePercentage))',
    message: 'renewBefore and renewBeforePercentage are mutually exclusive: set at most one',
    fieldPath: '.renewBeforePercentage',
    check: (s) => s.renewBefore === undefined || s.renewBeforePercentage === undefined,
  },
  {
    rule: `!has(self.renewBefore) || duration(self.renewBefore) < duration(self.?duration.orValue('${DEFAULT_DURATION}'))`,
    message: 'renewBefore must be shorter than duration',
    fieldPath: '.renewBefore',
    check: (s) =>
      s.renewBefore === undefined ||
      (parseDuration(s.renewBefore) ?? 0) < (parseDuration(s.duration ?? DEFAULT_DURATION) ?? 0),
  },
  {
    rule: "(has(self.subject) && has(self.subject.commonName) && self.subject.commonName != '') || (has(self.dnsNames) && size(self.dnsNames) > 0) || (has(self.ipAddresses) && size(self.ipAddresses) > 0) || (has(self.uris) && size(self.uris) > 0) || (has(self.emailAddresses) && size(self.emailAddresses) > 0)",
    message: 'at least one of subject.commonName, dnsNames, ipAddresses, uris or emailAddresses must be set',
    check: hasIdentity,
  },
]).describe('Desired state of a MachineIdentity.');

const ServedEndpoint = z.object({
  source: z
    .enum([
      'Service',
      'Ingress',
      'Gateway',
      'ValidatingWebhookConfiguration',
      'MutatingWebhookConfiguration',
      'APIService',
    ])
    .describe('The object that says this endpoint serves the Secret.'),
  object: z
    .string()
    .max(512)
    .describe('namespace/name of that object (a Gateway listener: namespace/gateway#listener).'),
  address: z.string().max(64).describe('The endpoint address dialled (a ready EndpointSlice address of a Pod).'),
  port: z.int().min(1).max(65535).meta({ format: 'int32' }).describe('The port dialled.'),
  sni: z.string().max(253).optional().describe('The server name sent.'),
  servedSerialNumber: z.string().max(128).optional().describe('Serial number of the certificate it served.'),
  verdict: z
    .enum(['Current', 'Stale', 'AwaitingReload', 'Expired', 'IncompleteChain', 'Untrusted', 'Unreachable', 'Pending'])
    .describe('What it served compared with the Secret.'),
  message: z.string().max(1024).optional().describe('Why, when not Current.'),
});

const ServedStatus = z.object({
  lastProbeTime: timestamp('When the endpoints were last probed.'),
  endpointCount: z.int().min(0).meta({ format: 'int32' }).optional().describe('How many endpoints were probed in all.'),
  endpoints: z
    .array(ServedEndpoint)
    .max(32)
    .optional()
    .meta({ 'x-kubernetes-list-type': 'atomic' })
    .describe('Up to 32 endpoints, those not serving the current certificate first.'),
});

export const MachineIdentityStatus = z
  .object({
    conditions: conditions(
      'Ready, Issuing, PolicyCompliant and Served; reason and message say why, in words a user can act on.',
    ),
    observedGeneration: ObservedGeneration,
    serialNumber: z.string().max(128).optional().describe('Serial number of the current certificate (hex).'),
    fingerprintSHA256: z
      .string()
      .max(95)
      .regex(SHA256_FINGERPRINT)
      .optional()
      .describe('SHA-256 fingerprint of the current certificate.'),
    issuer: z.string().max(1024).optional().describe('Issuer distinguished name of the current certificate.'),
    authorityFingerprintSHA256: z
      .string()
      .max(95)
      .regex(SHA256_FINGERPRINT)
      .optional()
      .describe('SHA-256 fingerprint of the CA certificate that signed it (find everything one CA issued).'),
    notBefore: timestamp("Start of the current certificate's validity."),
    notAfter: timestamp("End of the current certificate's validity."),
    renewalTime: timestamp('When the controller will renew it.'),
    revision: z.int().min(0).optional().meta({ format: 'int64' }).describe('How many times it has been issued.'),
    failedIssuanceAttempts: z
      .int()
      .min(0)
      .optional()
      .meta({ format: 'int32' })
      .describe('Consecutive failed issuance attempts since the last success.'),
    lastFailureTime: z.iso
      .datetime({ offset: true })
      .nullable()
      .optional()
      .describe('When issuance last failed; null after a success.'),
    pendingRequest: z
      .object({
        id: z.string().max(128).describe('The issuance attempt (<uid>-<revision>).'),
        state: z
          .string()
          .max(32768)
          .describe(
            'What the CA backend needs to resume it (an ACME order URL and the DNS records it wrote), opaque to users.',
          ),
      })
      .optional()
      .describe(
        'A request a CA is still working on: a restarted operator resumes it instead of starting over (and cleans up what it presented).',
      ),
    served: ServedStatus.optional().describe(
      'Where the certificate should be served and what each endpoint served at the last probe (the validation controller).',
    ),
  })
  .describe('Observed state of a MachineIdentity, written only by the controller.');

export type MachineIdentitySpec = z.infer<typeof MachineIdentitySpec>;
export type MachineIdentitySpecInput = z.input<typeof MachineIdentitySpec>;
export type MachineIdentityStatus = z.infer<typeof MachineIdentityStatus>;
type PrivateKey = z.infer<typeof PrivateKey>;
