// What the controller feeds the target mapping besides the informers' projections: the certificate
// Secrets the inventory found, and the operator's own webhook (which reads its Secret, not mounts it).
import type { InventoryObject } from '../inventory/model.ts';
import type { WebhookRef } from './projections.ts';
import type { KnownServing, TargetSecret } from './target-index.ts';

/** The certificate Secrets the inventory found: the leaf of each (tls.crt first), with its names and usage. */
export function discoveredSecrets(objects: readonly InventoryObject[]): TargetSecret[] {
  const out: TargetSecret[] = [];
  for (const o of objects) {
    if (o.kind !== 'Secret') continue;
    const leaf = o.certs.find((c) => !c.isCA && c.key === 'tls.crt') ?? o.certs.find((c) => !c.isCA);
    if (!leaf) continue;
    out.push({
      namespace: o.metadata.namespace ?? '',
      name: o.metadata.name,
      dnsNames: leaf.dnsNames,
      ipAddresses: leaf.ipAddresses,
      serverAuth: leaf.extKeyUsage.length === 0 || leaf.extKeyUsage.includes('serverAuth'),
    });
  }
  return out;
}

/**
 * The operator's own webhook: its pods read the serving Secret through the API instead of mounting it,
 * so the Services its ValidatingWebhookConfiguration calls are known servers of that Secret
 * (TargetOptions.knownServing). Only the configuration the operator was configured with counts.
 */
export function ownWebhookServing(
  webhooks: readonly WebhookRef[],
  own: { configName: string; namespace: string; secretName: string },
): KnownServing[] {
  const config = webhooks.find(
    (w) => w.kind === 'ValidatingWebhookConfiguration' && w.metadata.name === own.configName,
  );
  const services = new Set((config?.calls ?? []).filter((c) => c.namespace === own.namespace).map((c) => c.name));
  return [...services].map((name) => ({
    service: { namespace: own.namespace, name },
    secret: { namespace: own.namespace, name: own.secretName },
  }));
}
