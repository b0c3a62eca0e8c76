// The sub-objects of a CertificateAuthorityBinding spec: the generated CA, the ACME solvers, Vault auth,
// the signer's CSR requesters and the grants (certificate-authority-binding.ts assembles them).
import { z } from 'zod';
import {
  CIDR,
  DNS_NAME,
  duration,
  labelName,
  LabelSelector,
  LocalObjectReference,
  objectName,
  patternList,
  SecretKeySelector,
  withRules,
} from './common.ts';
import { keyAlgorithmField, keySizeField, keySizeRule } from './machine-identity.ts';

export const httpsURL = (description: string) =>
  z
    .string()
    .max(2048)
    .regex(/^https?:\/\/[^\s]+$/)
    .describe(description);

export const CAGenerate = z
  .object({
    commonName: z.string().min(1).max(64).describe('Common name of the generated CA certificate.'),
    organizations: z
      .array(z.string().max(64))
      .max(10)
      .optional()
      .describe('Organizations (O) of the generated CA certificate.'),
    duration: duration('Lifetime of the generated CA certificate (at least 1h).', '1h').default('87600h'),
    privateKey: withRules(z.object({ algorithm: keyAlgorithmField, size: keySizeField }), [keySizeRule])
      .prefault({})
      .describe('Key of the generated CA.'),
    regenerate: z
      .enum(['Never', 'IfMissing'])
      .default('Never')
      .describe(
        'Once a CA was recorded in status: Never = a lost CA Secret makes the binding Ready=False CASecretMissing (ask for a new CA with the annotation machineidentity.io/regenerate-ca-requested-at); IfMissing = generate a new CA whenever the Secret is missing (old and new CA overlap in the trust bundles).',
      ),
  })
  .describe(
    'Generate the CA key and a self-signed CA certificate into secretRef when the Secret does not exist and no CA was recorded yet (see regenerate).',
  );

export const AcmeSolver = withRules(
  z.object({
    selector: z
      .object({
        dnsZones: z
          .array(z.string().max(253).regex(DNS_NAME))
          .max(32)
          .optional()
          .describe('Use this solver for names in these DNS zones.'),
        dnsNames: z
          .array(z.string().max(253).regex(DNS_NAME))
          .max(32)
          .optional()
          .describe('Use this solver for exactly these names.'),
      })
      .optional()
      .describe('Which names this solver handles; empty = all.'),
    http01: z
      .object({
        ingress: z
          .object({
            ingressClassName: z.string().max(253).optional().describe('IngressClass of the temporary Ingress.'),
            serviceType: z
              .enum(['ClusterIP', 'NodePort'])
              .default('NodePort')
              .describe('Service type of the temporary solver Service.'),
          })
          .optional()
          .describe('Solve HTTP-01 with a temporary Ingress.'),
        gatewayHTTPRoute: z
          .object({
            parentRefs: z
              .array(
                z.object({
                  name: objectName('Gateway name.'),
                  namespace: labelName('Gateway namespace.').optional(),
                  sectionName: z.string().max(253).optional().describe('Listener name.'),
                }),
              )
              .min(1)
              .max(8)
              .describe('Gateways the temporary HTTPRoute attaches to.'),
          })
          .optional()
          .describe('Solve HTTP-01 with a temporary Gateway API HTTPRoute.'),
      })
      .optional()
      .describe(
        "HTTP-01 challenge solver, answered by the operator itself. {} = traffic for the names already reaches the operator's HTTP-01 port (chart acme.http01); ingress / gatewayHTTPRoute = the operator routes it with a temporary Ingress / HTTPRoute.",
      ),
    dns01: withRules(
      z.object({
        rfc2136: z
          .object({
            nameserver: z
              .string()
              .min(1)
              .max(261)
              .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/)
              .describe(
                "The zone's primary nameserver: host, host:port or [IPv6]:port (port 53 by default). Updates go over TCP.",
              ),
            zone: z
              .string()
              .max(253)
              .regex(DNS_NAME)
              .optional()
              .describe('Zone to update; default: the zone whose SOA the nameserver returns for the record name.'),
            tsigKeyName: z
              .string()
              .min(1)
              .max(253)
              .optional()
              .describe('TSIG key name, as configured on the nameserver.'),
            tsigAlgorithm: z
              .enum(['HMACSHA256', 'HMACSHA384', 'HMACSHA512', 'HMACSHA1', 'HMACMD5'])
              .default('HMACSHA256')
              .describe('TSIG algorithm.'),
            tsigSecretSecretRef: SecretKeySelector.optional().describe(
              'Secret key (operator namespace) holding the base64 TSIG secret.',
            ),
          })
          .describe('Solve DNS-01 with RFC 2136 dynamic updates (BIND, Knot, PowerDNS, Windows DNS), signed with TSIG.')
          .optional(),
        webhook: z
          .object({
            groupName: z.string().min(1).max(253).describe('API group of the DNS webhook solver.'),
            solverName: z.string().min(1).max(253).describe('Name of the solver within the webhook.'),
            config: z
              .looseObject({})
              .optional()
              .meta({ 'x-kubernetes-preserve-unknown-fields': true })
              .describe('Solver-specific configuration, passed through unchanged.'),
          })
          .optional()
          .describe('Solve DNS-01 through a DNS webhook solver (cert-manager style; not solved by this version).'),
      }),
      [
        {
          rule: 'has(self.rfc2136) != has(self.webhook)',
          message: 'dns01 needs exactly one of rfc2136 or webhook',
          check: (d) => (d.rfc2136 === undefined) !== (d.webhook === undefined),
        },
        {
          rule: '!has(self.rfc2136) || has(self.rfc2136.tsigKeyName) == has(self.rfc2136.tsigSecretSecretRef)',
          message: 'rfc2136.tsigKeyName and rfc2136.tsigSecretSecretRef go together',
          check: (d) =>
            !d.rfc2136 || (d.rfc2136.tsigKeyName === undefined) === (d.rfc2136.tsigSecretSecretRef === undefined),
        },
      ],
    )
      .optional()
      .describe('DNS-01 challenge solver.'),
  }),
  [
    {
      rule: 'has(self.http01) != has(self.dns01)',
      message: 'a solver needs exactly one of http01 or dns01',
      check: (s) => (s.http01 === undefined) !== (s.dns01 === undefined),
    },
  ],
);

export const VaultAuth = withRules(
  z.object({
    tokenSecretRef: SecretKeySelector.optional().describe('Secret key holding a Vault token.'),
    kubernetes: z
      .object({
        role: z.string().min(1).max(253).describe('Vault role to log in as.'),
        mountPath: z
          .string()
          .max(253)
          .regex(/^\/.*/)
          .default('/v1/auth/kubernetes')
          .describe('Path of the Kubernetes auth method.'),
        serviceAccountRef: LocalObjectReference.optional().describe(
          "Service account (in the operator's namespace) whose token is presented; default the operator's own.",
        ),
      })
      .optional()
      .describe('Log in with a Kubernetes service account token.'),
  }),
  [
    {
      rule: 'has(self.tokenSecretRef) != has(self.kubernetes)',
      message: 'vault.auth needs exactly one of tokenSecretRef or kubernetes',
      check: (a) => (a.tokenSecretRef === undefined) !== (a.kubernetes === undefined),
    },
  ],
).describe('How the operator authenticates to Vault.');

// A CSR requester that is not a ServiceAccount (a node, a user, a group), admitted by name together
// with the namespace whose selector, names and IssuancePolicies then apply to it. ServiceAccounts are
// never listed: they always belong to their own namespace.
export const CsrRequester = withRules(
  z.object({
    user: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .describe('Username as the API server authenticated it (spec.username of the CSR), e.g. system:node:worker-1.'),
    group: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .describe("A group the API server put in the CSR's spec.groups, e.g. system:nodes."),
    namespace: labelName(
      "The namespace this requester is treated as part of: the binding's namespaceSelector must select it, it owns that namespace's names, and IssuancePolicies selecting it apply.",
    ),
  }),
  [
    {
      rule: 'has(self.user) != has(self.group)',
      message: 'a csrRequesters entry needs exactly one of user or group',
      check: (r) => (r.user === undefined) !== (r.group === undefined),
    },
    {
      rule: "!(has(self.user) && self.user.startsWith('system:serviceaccount:')) && !(has(self.group) && self.group.startsWith('system:serviceaccounts'))",
      message: 'ServiceAccounts always belong to their own namespace and are not listed in csrRequesters',
      check: (r) => !r.user?.startsWith('system:serviceaccount:') && !r.group?.startsWith('system:serviceaccounts'),
    },
  ],
);

/** What a namespace may hold beyond the names it owns (see docs/security.md): the security team's grant. */
export const Grant = z
  .object({
    namespaceSelector: LabelSelector.optional().describe(
      'Namespaces this grant applies to (among those the binding serves); absent or empty = every namespace the binding serves.',
    ),
    dnsNames: patternList(
      'DNS names these namespaces may also hold: patterns where * is one label and {{namespace}} the requesting namespace, e.g. *.{{namespace}}.example.com, api.example.com, kubernetes.default.svc.',
    ),
    allowWildcards: z
      .boolean()
      .default(false)
      .describe('Whether wildcard certificates (*.name) may be issued for owned and granted names.'),
    ipAddresses: z
      .array(CIDR)
      .max(64)
      .optional()
      .describe(
        'IP addresses these namespaces may hold, as CIDRs (e.g. 10.0.0.0/8, 127.0.0.1/32). No IP address is owned by default.',
      ),
    uris: patternList('URIs these namespaces may also hold, e.g. spiffe://example.org/ns/{{namespace}}/*.', 64, 1024),
    emailAddresses: patternList('E-mail addresses these namespaces may hold, e.g. *@{{namespace}}.example.com.'),
    allowCA: z
      .boolean()
      .default(false)
      .describe(
        'Whether CA certificates may be issued. They always carry pathLenConstraint 0 and name constraints limited to what the namespace may hold; only the ca and selfSigned backends can add them.',
      ),
  })
  .describe('A grant of names, addresses or CA certificates beyond what a namespace owns.');
