// The live Issuer for each CertificateAuthorityBinding, kept by the binding controller and read by the
// issuance controller. An entry is present only while the binding is Ready.
import type { Issuer, AuthorityHealth } from './types.ts';

export interface AuthorityEntry {
  issuer: Issuer;
  health: AuthorityHealth;
  /** metadata.generation of the binding this entry was built from. */
  generation: number | undefined;
  /** SHA-256 fingerprints (colon hex, upper case) the binding distrusts. */
  distrusted: ReadonlySet<string>;
  /** The binding's maxDuration in ms, if set. */
  maxDurationMs?: number;
  /** What the binding's trust bundles publish (current CA and previous ones in their overlap window). */
  trustBundlePem?: string;
  /** Epoch ms from which identities may move to the current CA after a CA change (Infinity: a bundle lacks it yet). */
  reissueNotBefore?: number;
}

export class IssuerCache {
  private readonly entries = new Map<string, AuthorityEntry>();
  private readonly listeners: ((binding: string) => void)[] = [];

  get(binding: string): AuthorityEntry | undefined {
    return this.entries.get(binding);
  }

  set(binding: string, entry: AuthorityEntry): void {
    const prev = this.entries.get(binding);
    this.entries.set(binding, entry);
    if (
      prev?.health.caFingerprintSHA256 !== entry.health.caFingerprintSHA256 ||
      prev?.issuer !== entry.issuer ||
      prev.trustBundlePem !== entry.trustBundlePem ||
      prev.reissueNotBefore !== entry.reissueNotBefore
    )
      this.emit(binding);
  }

  delete(binding: string): void {
    if (this.entries.delete(binding)) this.emit(binding);
  }

  /** Called with the binding name whenever its issuer appears, changes CA or goes away. */
  onChange(fn: (binding: string) => void): void {
    this.listeners.push(fn);
  }

  private emit(binding: string): void {
    for (const fn of this.listeners) fn(binding);
  }
}
