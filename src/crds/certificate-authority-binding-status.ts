// The status of a CertificateAuthorityBinding, written only by the controllers.
import { z } from 'zod';
import { SHA256_FINGERPRINT } from './common.ts';
import { conditions, ObservedGeneration, timestamp } from './meta.ts';
import { BACKENDS } from './certificate-authority-binding.ts';

export const CertificateAuthorityBindingStatus = z
  .object({
    conditions: conditions('Ready: the CA is reachable and its certificate valid.'),
    observedGeneration: ObservedGeneration,
    backend: z.enum(BACKENDS).optional().describe('Which backend is in use (for the Backend printer column).'),
    caFingerprintSHA256: z
      .string()
      .max(95)
      .regex(SHA256_FINGERPRINT)
      .optional()
      .describe('SHA-256 fingerprint of the current CA certificate.'),
    caNotAfter: timestamp("End of the current CA certificate's validity."),
    caTrustBundle: z
      .string()
      .max(32768)
      .optional()
      .describe(
        'PEM trust anchors of the recorded CA (public), kept so they stay published if its Secret is lost or replaced.',
      ),
    previousCAs: z
      .array(
        z.object({
          fingerprintSHA256: z
            .string()
            .max(95)
            .regex(SHA256_FINGERPRINT)
            .describe('SHA-256 fingerprint of the previous CA certificate.'),
          trustBundle: z
            .string()
            .max(32768)
            .describe('Its PEM trust anchors (public), still published in the trust bundles.'),
          retiredAt: z.iso.datetime({ offset: true }).describe('When it stopped being the current CA.'),
          retireAfter: z.iso
            .datetime({ offset: true })
            .describe(
              'Earliest time it leaves the trust bundles (it also waits until no identity holds a certificate from it).',
            ),
          distrusted: z
            .boolean()
            .optional()
            .describe('Listed in spec.distrust: leaves as soon as everything it signed was reissued.'),
        }),
      )
      .max(8)
      .optional()
      .describe('Previous CAs still published next to the current one during the overlap window.'),
    caPublishedAt: timestamp(
      'When every trust bundle of the binding (ConfigMaps, ClusterTrustBundle) was seen carrying the current CA.',
    ),
    reissueNotBefore: timestamp(
      'After a CA change: identities are reissued from the new CA from this time on (caPublishedAt + caRotation.propagationDelay).',
    ),
    caRegenerationHandled: z
      .string()
      .max(64)
      .optional()
      .describe('The value of the machineidentity.io/regenerate-ca-requested-at annotation last acted on.'),
    identities: z
      .int()
      .min(0)
      .optional()
      .meta({ format: 'int32' })
      .describe('How many MachineIdentities it currently backs.'),
    outdatedIdentities: z
      .int()
      .min(0)
      .optional()
      .meta({ format: 'int32' })
      .describe(
        'How many of them still hold a certificate from a CA other than the current one (re-issuance progress after a CA change or distrust).',
      ),
  })
  .describe('Observed state of a CertificateAuthorityBinding, written only by the controller.');

export type CertificateAuthorityBindingStatus = z.infer<typeof CertificateAuthorityBindingStatus>;
