// Which Secrets (operator namespace) a binding's spec reads, pure: the controller re-resolves the
// binding when one of them changes, and a remote issuer is rebuilt when a referenced value rotates.

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** `[name, key]` when `field: value` is a Secret reference; a reference without a key names a key pair: tls.key. */
function refOf(field: string, value: unknown): [string, string] | undefined {
  if (field !== 'secretRef' && !field.endsWith('SecretRef')) return undefined;
  if (!isRecord(value) || typeof value.name !== 'string') return undefined;
  return [value.name, typeof value.key === 'string' ? value.key : 'tls.key'];
}

/**
 * Secret keys a spec reads: every `secretRef` / `*SecretRef` in it (CA, CFSSL auth key, step-ca
 * password, ACME account/EAB/TSIG keys), at most 8 levels deep.
 */
export function secretRefs(spec: unknown): [string, string][] {
  const out: [string, string][] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 8 || !isRecord(v)) return;
    for (const [k, x] of Object.entries(v)) {
      const ref = refOf(k, x);
      if (ref) out.push(ref);
      else walk(x, depth + 1);
    }
  };
  walk(spec, 0);
  return out;
}

/** The names of the Secrets a spec reads. */
export function secretNames(spec: unknown): string[] {
  return secretRefs(spec).map(([name]) => name);
}
