// CertificateAuthorityBinding (cluster-scoped, short name `cab`): one CA, how to reach it, who may use it.
import { z } from 'zod';
import {
  CIDR, conditions, DNS_NAME, duration, labelName, LabelSelector, LocalObjectReference, objectName, ObservedGeneration,
  parseDuration, patternList, pemBundle, SecretKeySelector, setList, SHA256_FINGERPRINT, timestamp, withRules,
} from './common.ts';
import { keyAlgorithmField, keySizeField, keySizeRule } from './machine-identity.ts';

export const BACKENDS = ['selfSigned', 'ca', 'acme', 'vault', 'stepCA', 'cfssl', 'kubernetes'] as const;
export type Backend = (typeof BACKENDS)[number];

const httpsURL = (description: string) =>
  z.string().max(2048).regex(/^https?:\/\/[^\s]+$/).describe(description);

const CAGenerate = z.object({
  commonName: z.string().min(1).max(64).describe('Common name of the generated CA certificate.'),
  organizations: z.array(z.string().max(64)).max(10).optional().describe('Organizations (O) of the generated CA certificate.'),
  duration: duration('Lifetime of the generated CA certificate (at least 1h).', '1h').default('87600h'),
  privateKey: withRules(z.object({ algorithm: keyAlgorithmField, size: keySizeField }), [keySizeRule])
    .prefault({}).describe('Key of the generated CA.'),
  regenerate: z.enum(['Never', 'IfMissing']).default('Never')
    .describe('Once a CA was recorded in status: Never = a lost CA Secret makes the binding Ready=False CASecretMissing (ask for a new CA with the annotation machineidentity.io/regenerate-ca-requested-at); IfMissing = generate a new CA whenever the Secret is missing (old and new CA overlap in the trust bundles).'),
}).describe('Generate the CA key and a self-signed CA certificate into secretRef when the Secret does not exist and no CA was recorded yet (see regenerate).');

const AcmeSolver = withRules(z.object({
  selector: z.object({
    dnsZones: z.array(z.string().max(253).regex(DNS_NAME)).max(32).optional().describe('Use this solver for names in these DNS zones.'),
    dnsNames: z.array(z.string().max(253).regex(DNS_NAME)).max(32).optional().describe('Use this solver for exactly these names.'),
  }).optional().describe('Which names this solver handles; empty = all.'),
  http01: z.object({
    ingress: z.object({
      ingressClassName: z.string().max(253).optional().describe('IngressClass of the temporary Ingress.'),
      serviceType: z.enum(['ClusterIP', 'NodePort']).default('NodePort').describe('Service type of the temporary solver Service.'),
    }).optional().describe('Solve HTTP-01 with a temporary Ingress.'),
    gatewayHTTPRoute: z.object({
      parentRefs: z.array(z.object({
        name: objectName('Gateway name.'),
        namespace: labelName('Gateway namespace.').optional(),
        sectionName: z.string().max(253).optional().describe('Listener name.'),
      })).min(1).max(8).describe('Gateways the temporary HTTPRoute attaches to.'),
    }).optional().describe('Solve HTTP-01 with a temporary Gateway API HTTPRoute.'),
  }).optional().describe('HTTP-01 challenge solver, answered by the operator itself. {} = traffic for the names already reaches the operator\'s HTTP-01 port (chart acme.http01); ingress / gatewayHTTPRoute = the operator routes it with a temporary Ingress / HTTPRoute.'),
  dns01: withRules(z.object({
    rfc2136: z.object({
      nameserver: z.string().min(1).max(261).regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/).describe('The zone\'s primary nameserver: host, host:port or [IPv6]:port (port 53 by default). Updates go over TCP.'),
      zone: z.string().max(253).regex(DNS_NAME).optional().describe('Zone to update; default: the zone whose SOA the nameserver returns for the record name.'),
      tsigKeyName: z.string().min(1).max(253).optional().describe('TSIG key name, as configured on the nameserver.'),
      tsigAlgorithm: z.enum(['HMACSHA256', 'HMACSHA384', 'HMACSHA512', 'HMACSHA1', 'HMACMD5']).default('HMACSHA256').describe('TSIG algorithm.'),
      tsigSecretSecretRef: SecretKeySelector.optional().describe('Secret key (operator namespace) holding the base64 TSIG secret.'),
    }).describe('Solve DNS-01 with RFC 2136 dynamic updates (BIND, Knot, PowerDNS, Windows DNS), signed with TSIG.').optional(),
    webhook: z.object({
      groupName: z.string().min(1).max(253).describe('API group of the DNS webhook solver.'),
      solverName: z.string().min(1).max(253).describe('Name of the solver within the webhook.'),
      config: z.looseObject({}).optional().meta({ 'x-kubernetes-preserve-unknown-fields': true })
        .describe('Solver-specific configuration, passed through unchanged.'),
    }).optional().describe('Solve DNS-01 through a DNS webhook solver (cert-manager style; not solved by this version).'),
  }), [{
    rule: 'has(self.rfc2136) != has(self.webhook)',
    message: 'dns01 needs exactly one of rfc2136 or webhook',
    check: (d) => (d.rfc2136 === undefined) !== (d.webhook === undefined),
  }, {
    rule: '!has(self.rfc2136) || has(self.rfc2136.tsigKeyName) == has(self.rfc2136.tsigSecretSecretRef)',
    message: 'rfc2136.tsigKeyName and rfc2136.tsigSecretSecretRef go together',
    check: (d) => !d.rfc2136 || (d.rfc2136.tsigKeyName === undefined) === (d.rfc2136.tsigSecretSecretRef === undefined),
  }]).optional().describe('DNS-01 challenge solver.'),
}), [{
  rule: 'has(self.http01) != has(self.dns01)',
  message: 'a solver needs exactly one of http01 or dns01',
  check: (s) => (s.http01 === undefined) !== (s.dns01 === undefined),
}]);

const VaultAuth = withRules(z.object({
  tokenSecretRef: SecretKeySelector.optional().describe('Secret key holding a Vault token.'),
  kubernetes: z.object({
    role: z.string().min(1).max(253).describe('Vault role to log in as.'),
    mountPath: z.string().max(253).regex(/^\/.*/).default('/v1/auth/kubernetes').describe('Path of the Kubernetes auth method.'),
    serviceAccountRef: LocalObjectReference.optional().describe('Service account (in the operator\'s namespace) whose token is presented; default the operator\'s own.'),
  }).optional().describe('Log in with a Kubernetes service account token.'),
}), [{
  rule: 'has(self.tokenSecretRef) != has(self.kubernetes)',
  message: 'vault.auth needs exactly one of tokenSecretRef or kubernetes',
  check: (a) => (a.tokenSecretRef === undefined) !== (a.kubernetes === undefined),
}]).describe('How the operator authenticates to Vault.');

// A CSR requester that is not a ServiceAccount (a node, a user, a group), admitted by name together
// with the namespace whose selector, names and IssuancePolicies then apply to it. ServiceAccounts are
// never listed: they always belong to their own namespace.
const CsrRequester = withRules(z.object({
  user: z.string().min(1).max(253).optional().describe('Username as the API server authenticated it (spec.username of the CSR), e.g. system:node:worker-1.'),
  group: z.string().min(1).max(253).optional().describe('A group the API server put in the CSR\'s spec.groups, e.g. system:nodes.'),
  namespace: labelName('The namespace this requester is treated as part of: the binding\'s namespaceSelector must select it, it owns that namespace\'s names, and IssuancePolicies selecting it apply.'),
}), [{
  rule: 'has(self.user) != has(self.group)',
  message: 'a csrRequesters entry needs exactly one of user or group',
  check: (r) => (r.user === undefined) !== (r.group === undefined),
}, {
  rule: "!(has(self.user) && self.user.startsWith('system:serviceaccount:')) && !(has(self.group) && self.group.startsWith('system:serviceaccounts'))",
  message: 'ServiceAccounts always belong to their own namespace and are not listed in csrRequesters',
  check: (r) => !r.user?.startsWith('system:serviceaccount:') && !r.group?.startsWith('system:serviceaccounts'),
}]);

/** What a namespace may hold beyond the names it owns (see docs/security.md): the security team's grant. */
export const Grant = z.object({
  namespaceSelector: LabelSelector.optional()
    .describe('Namespaces this grant applies to (among those the binding serves); absent or empty = every namespace the binding serves.'),
  dnsNames: patternList('DNS names these namespaces may also hold: patterns where * is one label and {{namespace}} the requesting namespace, e.g. *.{{namespace}}.example.com, api.example.com, kubernetes.default.svc.'),
  allowWildcards: z.boolean().default(false).describe('Whether wildcard certificates (*.name) may be issued for owned and granted names.'),
  ipAddresses: z.array(CIDR).max(64).optional().describe('IP addresses these namespaces may hold, as CIDRs (e.g. 10.0.0.0/8, 127.0.0.1/32). No IP address is owned by default.'),
  uris: patternList('URIs these namespaces may also hold, e.g. spiffe://example.org/ns/{{namespace}}/*.', 64, 1024),
  emailAddresses: patternList('E-mail addresses these namespaces may hold, e.g. *@{{namespace}}.example.com.'),
  allowCA: z.boolean().default(false).describe('Whether CA certificates may be issued. They always carry pathLenConstraint 0 and name constraints limited to what the namespace may hold; only the ca and selfSigned backends can add them.'),
}).describe('A grant of names, addresses or CA certificates beyond what a namespace owns.');

const specShape = {
  namespaceSelector: LabelSelector.optional()
    .describe('Namespaces whose MachineIdentities may use this authority. An empty or absent selector means every namespace.'),
  maxDuration: duration('The CA never issues certificates longer than this (at least 10m); longer requests are capped. Unset: 2160h (90 days).', '10m').optional(),
  grants: z.array(Grant).max(64).optional()
    .describe('What namespaces may hold beyond their own names. By default a namespace owns <service>.<ns>.svc, <service>.<ns>.svc.<cluster domain>, pod names under <ns> and spiffe://<trustDomain>/ns/<ns>/sa/<sa>; it gets no IP address, e-mail address, foreign or public name, wildcard or CA certificate unless a grant selecting it allows it.'),
  selfSigned: z.object({}).optional().describe('Each identity signs itself (development only).'),
  ca: z.object({
    secretRef: LocalObjectReference.describe('Secret in the operator\'s namespace with tls.crt, tls.key (and ca.crt for the chain).'),
    generate: CAGenerate.optional(),
  }).optional().describe('A CA whose key lives in a Secret in the operator\'s namespace.'),
  acme: z.object({
    directoryURL: httpsURL('ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory.'),
    email: z.string().max(254).regex(/^[^@\s]+@[^@\s]+$/).optional().describe('Account e-mail address.'),
    accountKeySecretRef: LocalObjectReference.describe('Secret in the operator\'s namespace that stores the ACME account key (created when absent).'),
    externalAccountBinding: z.object({
      keyID: z.string().min(1).max(1024).describe('EAB key identifier.'),
      keySecretRef: SecretKeySelector.describe('Secret key holding the base64url EAB HMAC key.'),
    }).optional().describe('External account binding, for CAs that require one.'),
    caBundle: pemBundle('PEM CA bundle to trust for the ACME server; default the system roots.').optional(),
    rootCertificates: pemBundle('Root certificates the CA\'s chains lead to, written as ca.crt and published as the trust bundle; default: the top certificate of the chain the CA sends.').optional(),
    requestDuration: z.boolean().default(false).describe('Ask for spec.duration in the order (notAfter). Off by default: Let\'s Encrypt refuses orders that name a lifetime.'),
    profile: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/).optional().describe('ACME certificate profile to order (e.g. Let\'s Encrypt "tlsserver" or "shortlived").'),
    solvers: z.array(AcmeSolver).max(16).optional().describe('Challenge solvers, tried in order of selector specificity.'),
  }).optional().describe('An ACME server (RFC 8555). Answers later: issuance waits for challenges.'),
  vault: z.object({
    server: httpsURL('Vault server URL.'),
    path: z.string().min(1).max(512).regex(/^[^\s]+$/).describe('Signing path, e.g. pki/sign/<role>.'),
    auth: VaultAuth,
    caBundle: pemBundle('PEM CA bundle to trust for the Vault server.').optional(),
  }).optional().describe('HashiCorp Vault / OpenBao PKI.'),
  stepCA: z.object({
    url: httpsURL('step-ca URL.'),
    provisioner: z.object({
      name: z.string().min(1).max(253).describe('JWK provisioner name.'),
      passwordSecretRef: SecretKeySelector.describe('Secret key holding the provisioner password.'),
    }).describe('Provisioner used to obtain tokens.'),
    caBundle: pemBundle('PEM CA bundle to trust for step-ca.').optional(),
  }).optional().describe('Smallstep step-ca.'),
  cfssl: z.object({
    url: httpsURL('CFSSL API URL.'),
    profile: z.string().max(253).optional().describe('CFSSL signing profile.'),
    authKeySecretRef: SecretKeySelector.optional().describe('Secret key holding the hex auth key for authenticated signing.'),
    caBundle: pemBundle('PEM CA bundle to trust for CFSSL.').optional(),
  }).optional().describe('CloudFlare CFSSL.'),
  kubernetes: z.object({
    signerName: z.string().min(3).max(571).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/)
      .describe('Signer name, e.g. kubernetes.io/kube-apiserver-client.'),
  }).optional().describe('The cluster\'s own signers, through certificates.k8s.io/v1 CertificateSigningRequests.'),
  signer: z.object({
    podCertificates: z.boolean().default(false).describe('Sign PodCertificateRequests (short-lived per-pod identities).'),
    trustDomain: z.string().min(1).max(253).regex(/^[a-z0-9._-]+$/).default('cluster.local')
      .describe('SPIFFE trust domain: spiffe://<trustDomain>/ns/<namespace>/sa/<service account>.'),
    certificateSigningRequests: z.boolean().default(false).describe('Sign certificates.k8s.io/v1 CSRs for signer machineidentity.io/<binding name>.'),
    csrRequesters: z.array(CsrRequester).max(32).optional()
      .describe('Requesters other than ServiceAccounts whose CSRs this signer answers, each placed in a namespace; the first entry matching the CSR\'s spec.username or spec.groups applies. ServiceAccount requesters are answered for their own namespace. Anyone else is denied (RequesterNotAllowed).'),
    maxPodCertificateDuration: duration('Longest pod certificate issued (at least 1h, the Kubernetes minimum).', '1h').default('24h'),
  }).optional().describe('Act as a Kubernetes signer named machineidentity.io/<binding name>.'),
  trustBundle: z.object({
    configMapName: objectName('ConfigMap written into every bound namespace.'),
    key: z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/).default('ca.crt').describe('Key in the ConfigMap.'),
  }).optional().describe('Publish this CA\'s bundle into every bound namespace.'),
  caRotation: z.object({
    propagationDelay: duration('After every trust bundle carries a new CA, wait this long before identities are reissued from it (kubelet volume updates are not instant).', '1s').default('5m'),
    overlap: duration('A previous CA stays in the trust bundles at least this long after it was replaced (and while any identity still holds a certificate from it); a distrusted one leaves as soon as everything it signed was reissued.', '1s').default('24h'),
  }).optional().describe('How a CA change (new key, replaced Secret, distrust) reaches clients: old and new CA overlap in every trust bundle.'),
  distrust: setList(z.string().max(95).regex(SHA256_FINGERPRINT), 64).optional()
    .describe('SHA-256 fingerprints of compromised or retired CA certificates: everything they signed is reissued and they are dropped from bundles.'),
};

type SpecOut = z.output<z.ZodObject<typeof specShape>>;
const backendCount = (s: SpecOut): number => BACKENDS.filter((b) => s[b] !== undefined).length;

export const CertificateAuthorityBindingSpec = withRules(z.object(specShape), [
  {
    rule: BACKENDS.map((b) => `(has(self.${b}) ? 1 : 0)`).join(' + ') + ' == 1',
    message: `exactly one CA backend must be set: ${BACKENDS.join(', ')}`,
    check: (s) => backendCount(s) === 1,
  },
  {
    rule: "!has(self.signer) || !has(self.maxDuration) || duration(self.signer.?maxPodCertificateDuration.orValue('24h')) <= duration(self.maxDuration)",
    message: 'signer.maxPodCertificateDuration must not exceed maxDuration',
    fieldPath: '.signer.maxPodCertificateDuration',
    check: (s) => !s.signer || !s.maxDuration
      || (parseDuration(s.signer.maxPodCertificateDuration) ?? 0) <= (parseDuration(s.maxDuration) ?? 0),
  },
]).describe('Desired state of a CertificateAuthorityBinding.');

export const CertificateAuthorityBindingStatus = z.object({
  conditions: conditions('Ready: the CA is reachable and its certificate valid.'),
  observedGeneration: ObservedGeneration,
  backend: z.enum(BACKENDS).optional().describe('Which backend is in use (for the Backend printer column).'),
  caFingerprintSHA256: z.string().max(95).regex(SHA256_FINGERPRINT).optional().describe('SHA-256 fingerprint of the current CA certificate.'),
  caNotAfter: timestamp('End of the current CA certificate\'s validity.'),
  caTrustBundle: z.string().max(32768).optional().describe('PEM trust anchors of the recorded CA (public), kept so they stay published if its Secret is lost or replaced.'),
  previousCAs: z.array(z.object({
    fingerprintSHA256: z.string().max(95).regex(SHA256_FINGERPRINT).describe('SHA-256 fingerprint of the previous CA certificate.'),
    trustBundle: z.string().max(32768).describe('Its PEM trust anchors (public), still published in the trust bundles.'),
    retiredAt: z.iso.datetime({ offset: true }).describe('When it stopped being the current CA.'),
    retireAfter: z.iso.datetime({ offset: true }).describe('Earliest time it leaves the trust bundles (it also waits until no identity holds a certificate from it).'),
    distrusted: z.boolean().optional().describe('Listed in spec.distrust: leaves as soon as everything it signed was reissued.'),
  })).max(8).optional().describe('Previous CAs still published next to the current one during the overlap window.'),
  caPublishedAt: timestamp('When every trust bundle of the binding (ConfigMaps, ClusterTrustBundle) was seen carrying the current CA.'),
  reissueNotBefore: timestamp('After a CA change: identities are reissued from the new CA from this time on (caPublishedAt + caRotation.propagationDelay).'),
  caRegenerationHandled: z.string().max(64).optional().describe('The value of the machineidentity.io/regenerate-ca-requested-at annotation last acted on.'),
  identities: z.int().min(0).optional().meta({ format: 'int32' }).describe('How many MachineIdentities it currently backs.'),
  outdatedIdentities: z.int().min(0).optional().meta({ format: 'int32' })
    .describe('How many of them still hold a certificate from a CA other than the current one (re-issuance progress after a CA change or distrust).'),
}).describe('Observed state of a CertificateAuthorityBinding, written only by the controller.');

export type CertificateAuthorityBindingSpec = z.infer<typeof CertificateAuthorityBindingSpec>;
export type CertificateAuthorityBindingSpecInput = z.input<typeof CertificateAuthorityBindingSpec>;
export type CertificateAuthorityBindingStatus = z.infer<typeof CertificateAuthorityBindingStatus>;
