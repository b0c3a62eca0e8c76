// IssuancePolicy (cluster-scoped, short name `ipol`): what may be issued, what discovered certificates must look like.
import { z } from 'zod';
import { CIDR, setList, duration, LabelSelector, objectName, parseDuration, patternList, withRules } from './common.ts';
import { conditions, ObservedGeneration } from './meta.ts';
import { KeyAlgorithm, KeyUsage } from './machine-identity.ts';

const SignatureAlgorithm = z.enum([
  'SHA256WithRSA',
  'SHA384WithRSA',
  'SHA512WithRSA',
  'SHA256WithRSAPSS',
  'SHA384WithRSAPSS',
  'SHA512WithRSAPSS',
  'ECDSAWithSHA256',
  'ECDSAWithSHA384',
  'ECDSAWithSHA512',
  'Ed25519',
  'SHA1WithRSA',
  'ECDSAWithSHA1',
  'MD5WithRSA',
]);
type SignatureAlgorithm = z.infer<typeof SignatureAlgorithm>;

const ECDSACurve = z.enum(['P-256', 'P-384', 'P-521']);

const rulesShape = {
  allowedAuthorities: z
    .array(objectName('CertificateAuthorityBinding name.'))
    .max(64)
    .optional()
    .describe('CertificateAuthorityBindings that may issue; absent = any.'),
  privateKey: z
    .object({
      allowedAlgorithms: setList(KeyAlgorithm, 3).optional().describe('Allowed key algorithms; absent = any.'),
      minRSASize: z.int().min(1024).max(16384).optional().describe('Smallest RSA key size allowed.'),
      allowedECDSACurves: setList(ECDSACurve, 3).optional().describe('Allowed ECDSA curves; absent = any.'),
    })
    .optional()
    .describe('Key requirements.'),
  maxDuration: duration('Longest certificate lifetime allowed.').optional(),
  minDuration: duration('Shortest certificate lifetime allowed.').optional(),
  dnsNames: z
    .object({
      allowed: patternList('Patterns every DNS name must match, e.g. *.{{namespace}}.svc; absent = any, empty = none.'),
      allowWildcardCertificates: z
        .boolean()
        .optional()
        .describe('Whether names starting with *. may be requested; absent = allowed.'),
    })
    .optional()
    .describe('DNS name rules.'),
  ipAddresses: z
    .object({
      allowedCIDRs: z
        .array(CIDR)
        .max(64)
        .optional()
        .describe('Ranges every IP address must fall in; absent = any, empty = none.'),
    })
    .optional()
    .describe('IP address rules.'),
  uris: z
    .object({
      allowed: patternList(
        'Patterns every URI must match, e.g. spiffe://cluster.local/ns/{{namespace}}/*; absent = any, empty = none.',
        64,
        1024,
      ),
    })
    .optional()
    .describe('URI rules.'),
  emailAddresses: z
    .object({
      allowed: patternList('Patterns every e-mail address must match; absent = any, empty = none.'),
    })
    .optional()
    .describe('E-mail address rules.'),
  subject: z
    .object({
      requireCommonName: z.boolean().optional().describe('Require a common name.'),
      allowedOrganizations: z
        .array(z.string().max(64))
        .max(64)
        .optional()
        .describe('Allowed organizations (O); absent = any.'),
    })
    .optional()
    .describe('Subject rules.'),
  usages: z
    .object({
      allowed: setList(KeyUsage, 19).optional().describe('Allowed key usages; absent = any.'),
    })
    .optional()
    .describe('Key usage rules.'),
  allowCA: z.boolean().optional().describe('Whether CA certificates (isCA) may be issued; absent = allowed.'),
  requireOwner: z.boolean().optional().describe('Require spec.owner.team on every MachineIdentity.'),
  forbidSelfSigned: z
    .boolean()
    .optional()
    .describe('Discovered certificates must not be self-signed (leaf certificates only).'),
  allowedSignatureAlgorithms: setList(SignatureAlgorithm, 13)
    .optional()
    .describe('Signature algorithms discovered certificates may use; absent = any.'),
};

type RulesOut = z.output<z.ZodObject<typeof rulesShape>>;

export const PolicyRules = withRules(z.object(rulesShape), [
  {
    rule: '!has(self.minDuration) || !has(self.maxDuration) || duration(self.minDuration) <= duration(self.maxDuration)',
    message: 'minDuration must not exceed maxDuration',
    fieldPath: '.minDuration',
    check: (r: RulesOut) =>
      !r.minDuration || !r.maxDuration || (parseDuration(r.minDuration) ?? 0) <= (parseDuration(r.maxDuration) ?? 0),
  },
]).describe('What a request must satisfy. Every rule left out allows anything.');

export const IssuancePolicySpec = z
  .object({
    enforcement: z
      .enum(['Enforce', 'Audit'])
      .default('Enforce')
      .describe('Enforce denies issuance that breaks a rule; Audit issues but reports the violation.'),
    remediation: z
      .enum(['None', 'Reissue'])
      .default('None')
      .describe('Reissue re-issues managed identities that fall out of policy; None only reports.'),
    selector: z
      .object({
        namespaceSelector: LabelSelector.optional().describe('Namespaces the policy applies to; absent = all.'),
        identitySelector: LabelSelector.optional().describe('Labels on the MachineIdentity; absent = all.'),
        authorities: z
          .array(objectName('CertificateAuthorityBinding name.'))
          .max(64)
          .optional()
          .describe('Only requests to these CertificateAuthorityBindings; absent or empty = any.'),
      })
      .optional()
      .describe('Which requests the policy applies to; absent = every request.'),
    rules: PolicyRules,
  })
  .describe('Desired state of an IssuancePolicy.');

export const IssuancePolicyStatus = z
  .object({
    conditions: conditions('Ready: the policy is valid and being evaluated.'),
    observedGeneration: ObservedGeneration,
    matchedIdentities: z
      .int()
      .min(0)
      .optional()
      .meta({ format: 'int32' })
      .describe('How many MachineIdentities the selector matches.'),
    violations: z
      .int()
      .min(0)
      .optional()
      .meta({ format: 'int32' })
      .describe('How many identities and discovered certificates currently break a rule.'),
  })
  .describe('Observed state of an IssuancePolicy, written only by the controller.');

export type IssuancePolicySpec = z.infer<typeof IssuancePolicySpec>;
export type IssuancePolicySpecInput = z.input<typeof IssuancePolicySpec>;
export type IssuancePolicyStatus = z.infer<typeof IssuancePolicyStatus>;
export type PolicyRules = z.infer<typeof PolicyRules>;
