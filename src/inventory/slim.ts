// What of an API object the parse pool's worker needs, decided cheaply on the main thread (no
// certificate parsing, no key derivation): only the values that may hold certificates. The
// informer's cache never keeps them; the worker gets a copy.
import { looksLikePkcs12 } from '../pki/pkcs12-read.ts';
import { hasPemMarker } from '../pki/pem.ts';
import {
  namedLikeCertificates,
  PASSWORD_KEYS,
  PKCS12_PASSWORD_ANNOTATION,
  type ApiServiceLike,
  type CrdLike,
  type Extracted,
  type ObjectLike,
  type WebhookConfigLike,
} from './extract.ts';

/** Cheap sniffing on the main thread (no certificate parsing, no key derivation): might this value hold certificates? */
function candidate(key: string, b64: string): boolean {
  if (namedLikeCertificates(key)) return true;
  // a PEM marker anywhere, or a PFX header: the decode is native and linear, the value at most ~1.5 MB (the API server's limit)
  const b = Buffer.from(b64, 'base64');
  return hasPemMarker(b) || (b[0] === 0x30 && looksLikePkcs12(b));
}

type Slim = Record<string, unknown> | undefined;
function keepValues(
  data: Record<string, string> | null | undefined,
  test: (k: string, v: string) => boolean,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data ?? {})) if (typeof v === 'string' && v.length > 0 && test(k, v)) out[k] = v;
  return Object.keys(out).length ? out : undefined;
}

function slimSecret(o: Record<string, unknown>): Slim {
  const meta = o.metadata as ObjectLike['metadata'];
  const all = o.data as Record<string, string> | null | undefined;
  const data = keepValues(all, candidate);
  if (!data) return undefined;
  const pwKey = meta?.annotations?.[PKCS12_PASSWORD_ANNOTATION];
  for (const k of [pwKey, ...PASSWORD_KEYS]) if (k && all?.[k] !== undefined) data[k] = all[k];
  return {
    metadata: { labels: meta?.labels ?? {}, annotations: pwKey ? { [PKCS12_PASSWORD_ANNOTATION]: pwKey } : {} },
    data,
  };
}

function slimConfigMap(o: Record<string, unknown>): Slim {
  const data = keepValues(o.data as Record<string, string> | undefined, (_k, v) => v.includes('-----BEGIN '));
  const binaryData = keepValues(o.binaryData as Record<string, string> | undefined, candidate);
  return data || binaryData ? { ...(data ? { data } : {}), ...(binaryData ? { binaryData } : {}) } : undefined;
}

function slimWebhooks(o: Record<string, unknown>): Slim {
  const webhooks = ((o as WebhookConfigLike).webhooks ?? []).flatMap((w) => {
    const caBundle = w.clientConfig?.caBundle;
    return caBundle ? [{ name: w.name, clientConfig: { caBundle } }] : [];
  });
  return webhooks.length ? { webhooks } : undefined;
}

const SLIMMERS: Record<string, (o: Record<string, unknown>) => Slim> = {
  Secret: slimSecret,
  ConfigMap: slimConfigMap,
  ValidatingWebhookConfiguration: slimWebhooks,
  MutatingWebhookConfiguration: slimWebhooks,
  APIService: (o) => {
    const ca = (o as ApiServiceLike).spec?.caBundle;
    return ca ? { spec: { caBundle: ca } } : undefined;
  },
  CustomResourceDefinition: (o) => {
    const ca = (o as CrdLike).spec?.conversion?.webhook?.clientConfig?.caBundle;
    return ca ? { spec: { conversion: { webhook: { clientConfig: { caBundle: ca } } } } } : undefined;
  },
};

/**
 * What of an object the worker needs: only the values that may hold certificates (and a PKCS#12
 * password when one is set), or undefined when there is nothing to parse. The worker gets a copy
 * of these; the informer's cache never keeps them.
 */
export function slimForParse(kind: string, o: Record<string, unknown>): Slim {
  return SLIMMERS[kind]?.(o);
}

/** Bytes the worker would decode for a slimmed object (base64 values count 3/4 of their length); 0 when there is nothing. */
export function slimBytes(kind: string, slim: Slim): number {
  let n = 0;
  const add = (m: unknown, ratio: number): void => {
    for (const v of Object.values((m ?? {}) as Record<string, unknown>))
      if (typeof v === 'string') n += Math.floor(v.length * ratio);
  };
  if (!slim) return 0;
  if (kind === 'Secret') add(slim.data, 3 / 4);
  if (kind === 'ConfigMap') {
    add(slim.data, 1);
    add(slim.binaryData, 3 / 4);
  }
  return n;
}

/** The finding for an object over the byte budget, decided on the main thread so its bytes are not even handed to a worker. */
export function oversizeFinding(bytes: number, max: number): Extracted {
  return { certs: [], problems: [{ key: '', reason: `${bytes} bytes to parse, over ${max}`, code: 'oversize' }] };
}
