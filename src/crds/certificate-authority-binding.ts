// CertificateAuthorityBinding (cluster-scoped, short name `cab`): one CA, how to reach it, who may use it.
import { z } from 'zod';
import {
  duration,
  LabelSelector,
  LocalObjectReference,
  objectName,
  parseDuration,
  pemBundle,
  SecretKeySelector,
  setList,
  SHA256_FINGERPRINT,
  withRules,
} from './common.ts';
import {
  AcmeSolver,
  CAGenerate,
  CsrRequester,
  Grant,
  httpsURL,
  VaultAuth,
} from './certificate-authority-binding-parts.ts';

export const BACKENDS = ['selfSigned', 'ca', 'acme', 'vault', 'stepCA', 'cfssl', 'kubernetes'] as const;
export type Backend = (typeof BACKENDS)[number];

const specShape = {
  namespaceSelector: LabelSelector.optional().describe(
    'Namespaces whose MachineIdentities may use this authority. An empty or absent selector means every namespace.',
  ),
  maxDuration: duration(
    'The CA never issues certificates longer than this (at least 10m); longer requests are capped. Unset: 2160h (90 days).',
    '10m',
  ).optional(),
  grants: z
    .array(Grant)
    .max(64)
    .optional()
    .describe(
      'What namespaces may hold beyond their own names. By default a namespace owns <service>.<ns>.svc, <service>.<ns>.svc.<cluster domain>, pod names under <ns> and spiffe://<trustDomain>/ns/<ns>/sa/<sa>; it gets no IP address, e-mail address, foreign or public name, wildcard or CA certificate unless a grant selecting it allows it.',
    ),
  selfSigned: z.object({}).optional().describe('Each identity signs itself (development only).'),
  ca: z
    .object({
      secretRef: LocalObjectReference.describe(
        "Secret in the operator's namespace with tls.crt, tls.key (and ca.crt for the chain).",
      ),
      generate: CAGenerate.optional(),
    })
    .optional()
    .describe("A CA whose key lives in a Secret in the operator's namespace."),
  acme: z
    .object({
      directoryURL: httpsURL('ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory.'),
      email: z
        .string()
        .max(254)
        .regex(/^[^@\s]+@[^@\s]+$/)
        .optional()
        .describe('Account e-mail address.'),
      accountKeySecretRef: LocalObjectReference.describe(
        "Secret in the operator's namespace that stores the ACME account key (created when absent).",
      ),
      externalAccountBinding: z
        .object({
          keyID: z.string().min(1).max(1024).describe('EAB key identifier.'),
          keySecretRef: SecretKeySelector.describe('Secret key holding the base64url EAB HMAC key.'),
        })
        .optional()
        .describe('External account binding, for CAs that require one.'),
      caBundle: pemBundle('PEM CA bundle to trust for the ACME server; default the system roots.').optional(),
      rootCertificates: pemBundle(
        "Root certificates the CA's chains lead to, written as ca.crt and published as the trust bundle; default: the top certificate of the chain the CA sends.",
      ).optional(),
      requestDuration: z
        .boolean()
        .default(false)
        .describe(
          "Ask for spec.duration in the order (notAfter). Off by default: Let's Encrypt refuses orders that name a lifetime.",
        ),
      profile: z
        .string()
        .min(1)
        .max(64)
        .regex(/^[A-Za-z0-9._-]+$/)
        .optional()
        .describe('ACME certificate profile to order (e.g. Let\'s Encrypt "tlsserver" or "shortlived").'),
      solvers: z
        .array(AcmeSolver)
        .max(16)
        .optional()
        .describe('Challenge solvers, tried in order of selector specificity.'),
    })
    .optional()
    .describe('An ACME server (RFC 8555). Answers later: issuance waits for challenges.'),
  vault: z
    .object({
      server: httpsURL('Vault server URL.'),
      path: z
        .string()
        .min(1)
        .max(512)
        .regex(/^[^\s]+$/)
        .describe('Signing path, e.g. pki/sign/<role>.'),
      auth: VaultAuth,
      caBundle: pemBundle('PEM CA bundle to trust for the Vault server.').optional(),
    })
    .optional()
    .describe('HashiCorp Vault / OpenBao PKI.'),
  stepCA: z
    .object({
      url: httpsURL('step-ca URL.'),
      provisioner: z
        .object({
          name: z.string().min(1).max(253).describe('JWK provisioner name.'),
          passwordSecretRef: SecretKeySelector.describe('Secret key holding the provisioner password.'),
        })
        .describe('Provisioner used to obtain tokens.'),
      caBundle: pemBundle('PEM CA bundle to trust for step-ca.').optional(),
    })
    .optional()
    .describe('Smallstep step-ca.'),
  cfssl: z
    .object({
      url: httpsURL('CFSSL API URL.'),
      profile: z.string().max(253).optional().describe('CFSSL signing profile.'),
      authKeySecretRef: SecretKeySelector.optional().describe(
        'Secret key holding the hex auth key for authenticated signing.',
      ),
      caBundle: pemBundle('PEM CA bundle to trust for CFSSL.').optional(),
    })
    .optional()
    .describe('CloudFlare CFSSL.'),
  kubernetes: z
    .object({
      signerName: z
        .string()
        .min(3)
        .max(571)
        .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/)
        .describe('Signer name, e.g. kubernetes.io/kube-apiserver-client.'),
    })
    .optional()
    .describe("The cluster's own signers, through certificates.k8s.io/v1 CertificateSigningRequests."),
  signer: z
    .object({
      podCertificates: z
        .boolean()
        .default(false)
        .describe('Sign PodCertificateRequests (short-lived per-pod identities).'),
      trustDomain: z
        .string()
        .min(1)
        .max(253)
        .regex(/^[a-z0-9._-]+$/)
        .default('cluster.local')
        .describe('SPIFFE trust domain: spiffe://<trustDomain>/ns/<namespace>/sa/<service account>.'),
      certificateSigningRequests: z
        .boolean()
        .default(false)
        .describe('Sign certificates.k8s.io/v1 CSRs for signer machineidentity.io/<binding name>.'),
      csrRequesters: z
        .array(CsrRequester)
        .max(32)
        .optional()
        .describe(
          "Requesters other than ServiceAccounts whose CSRs this signer answers, each placed in a namespace; the first entry matching the CSR's spec.username or spec.groups applies. ServiceAccount requesters are answered for their own namespace. Anyone else is denied (RequesterNotAllowed).",
        ),
      maxPodCertificateDuration: duration(
        'Longest pod certificate issued (at least 1h, the Kubernetes minimum).',
        '1h',
      ).default('24h'),
    })
    .optional()
    .describe('Act as a Kubernetes signer named machineidentity.io/<binding name>.'),
  trustBundle: z
    .object({
      configMapName: objectName('ConfigMap written into every bound namespace.'),
      key: z
        .string()
        .min(1)
        .max(253)
        .regex(/^[-._a-zA-Z0-9]+$/)
        .default('ca.crt')
        .describe('Key in the ConfigMap.'),
    })
    .optional()
    .describe("Publish this CA's bundle into every bound namespace."),
  caRotation: z
    .object({
      propagationDelay: duration(
        'After every trust bundle carries a new CA, wait this long before identities are reissued from it (kubelet volume updates are not instant).',
        '1s',
      ).default('5m'),
      overlap: duration(
        'A previous CA stays in the trust bundles at least this long after it was replaced (and while any identity still holds a certificate from it); a distrusted one leaves as soon as everything it signed was reissued.',
        '1s',
      ).default('24h'),
    })
    .optional()
    .describe(
      'How a CA change (new key, replaced Secret, distrust) reaches clients: old and new CA overlap in every trust bundle.',
    ),
  distrust: setList(z.string().max(95).regex(SHA256_FINGERPRINT), 64)
    .optional()
    .describe(
      'SHA-256 fingerprints of compromised or retired CA certificates: everything they signed is reissued and they are dropped from bundles.',
    ),
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
    check: (s) =>
      !s.signer ||
      !s.maxDuration ||
      (parseDuration(s.signer.maxPodCertificateDuration) ?? 0) <= (parseDuration(s.maxDuration) ?? 0),
  },
]).describe('Desired state of a CertificateAuthorityBinding.');

export type CertificateAuthorityBindingSpec = z.infer<typeof CertificateAuthorityBindingSpec>;
export type CertificateAuthorityBindingSpecInput = z.input<typeof CertificateAuthorityBindingSpec>;
