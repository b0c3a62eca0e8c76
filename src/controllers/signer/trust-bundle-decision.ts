// What the ClusterTrustBundle publisher does with one binding's bundle, decided from the bundle as read
// (trust-bundles.ts reads before it writes, so that a restart with nothing changed writes nothing).
//
// The security property the publisher keeps: a bundle never outlives its signer. A binding that stopped
// signing, became invalid or was deleted (also while the operator was down) loses its bundle, so pods
// that project `machineidentity.io/<binding>` stop trusting that CA; and a bundle that differs in any
// field we set (a retired or distrusted CA still in it, an edit by hand) is written again at once.
import { SIGNER_PREFIX } from './pod-certificate.ts';

/** The fields of a ClusterTrustBundle the publisher sets (and so compares). */
export interface BundleFields {
  signerName?: string;
  trustBundle?: string;
  labels?: Record<string, string>;
}

export type BundleAction = 'none' | 'apply' | 'delete';

/** `desired` undefined: the binding does not sign (or is gone); `current` undefined: no bundle exists. */
export function trustBundleAction(desired: BundleFields | undefined, current: BundleFields | undefined): BundleAction {
  if (!desired) return current ? 'delete' : 'none';
  if (!current) return 'apply';
  const sameLabels = Object.entries(desired.labels ?? {}).every(([k, v]) => current.labels?.[k] === v);
  return current.signerName === desired.signerName && current.trustBundle === desired.trustBundle && sameLabels
    ? 'none'
    : 'apply';
}

export const bundleName = (binding: string): string => `machineidentity.io:${binding}:ca`;

const NAME = /^machineidentity\.io:(.+):ca$/;

/** The binding a bundle belongs to when it is one of ours (name and signerName agree); undefined otherwise. */
export function bundleBinding(name: string | undefined, signerName: string | undefined): string | undefined {
  const b = NAME.exec(name ?? '')?.[1];
  return b && signerName === `${SIGNER_PREFIX}${b}` ? b : undefined;
}
