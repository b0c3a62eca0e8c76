// Shared copies of the certificate records the parse pool sends back. Every answer arrives as a fresh
// structured clone, so the same certificate in many objects (the CA in the ca.crt of every managed Secret,
// a CA bundle copied into every namespace) was held once per object: ~1 KB each. A record is identified by
// its data key and the certificate's SHA-256 fingerprint (same DER, same facts), and shared while any
// projection holds it: the table keeps weak references only, so it never holds a record nobody else does.
import type { CertRecord } from './cert-record.ts';

export class RecordInterner {
  private readonly table = new Map<string, WeakRef<CertRecord>>();
  private readonly gone = new FinalizationRegistry<string>((k) => {
    if (this.table.get(k)?.deref() === undefined) this.table.delete(k);
  });

  /** The shared (frozen) record equal to `r`: `r` itself the first time. */
  intern(r: CertRecord): CertRecord {
    const k = `${r.key}\0${r.fingerprintSHA256}`;
    const hit = this.table.get(k)?.deref();
    if (hit) return hit;
    Object.freeze(r);
    this.table.set(k, new WeakRef(r));
    this.gone.register(r, k);
    return r;
  }

  get size(): number {
    return this.table.size;
  }
}
