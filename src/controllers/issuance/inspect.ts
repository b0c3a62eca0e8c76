// The managed Secrets as the cache keeps them, and what their certificate and key hold.
// The informer keeps a projection of each labelled Secret (metadata, type, a SHA-256 of each data
// value, sizes), never its bytes: anyone who can write a Secret can add our label. The parse of
// tls.crt/tls.key runs in the parse pool, started by the informer's transform and cached per
// resourceVersion; what needs the bytes themselves (reusing the key, rebuilding keystores) reads
// the Secret from the API at that moment.
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { CertFacts } from '../../pki/certs.ts';
import type { Parser } from '../../parsing/parser.ts';

/** Labelled Secrets whose data is larger than this are not parsed nor cached: a finding, and the identity reissues. */
export const MANAGED_SECRET_MAX_BYTES = 256 * 1024;

/**
 * The leaf's facts as the cache keeps them: without the public KeyObject. A KeyObject holds an OpenSSL key
 * outside the V8 heap (~3.5 KB of RSS for a P-256 key, measured: docs/memory.md), one per managed Secret here;
 * the algorithm and size are in keyAlgorithm/keySize.
 */
export type LeafFacts = Omit<CertFacts, 'publicKey'>;

export interface SecretView {
  hasData: boolean;
  leaf?: LeafFacts;
  /** tls.key holds the private key of tls.crt's leaf. */
  keyMatches: boolean;
  /** The data is over MANAGED_SECRET_MAX_BYTES: not read. */
  oversize?: boolean;
}

/** What the managed-Secret informer keeps instead of `data`. */
export interface SecretDigests {
  digests: Record<string, string>;
  bytes: number;
  oversize: boolean;
}
export type ProjectedSecret = k8s.V1Secret & { mio?: SecretDigests };

const sha256 = (b64: string): string => createHash('sha256').update(b64).digest('base64');

/** SHA-256 of each non-empty data value (of its base64 text), from the projection or the full object. */
export function dataDigests(s: ProjectedSecret): Record<string, string> {
  if (s.mio) return s.mio.digests;
  // an empty value counts as absent, as `Boolean(data[k])` did
  return Object.fromEntries(
    Object.entries(s.data ?? {})
      .filter(([, v]) => typeof v === 'string' && v.length > 0)
      .map(([k, v]) => [k, sha256(v)]),
  );
}

const cache = new Map<string, { rv: string; view: Promise<SecretView> }>();

function bytesOf(data: Record<string, string> | undefined): number {
  let n = 0;
  for (const v of Object.values(data ?? {})) n += Math.floor((v.length * 3) / 4);
  return n;
}

function parseView(parser: Parser, data: Record<string, string> | undefined): Promise<SecretView> {
  if (bytesOf(data) > MANAGED_SECRET_MAX_BYTES)
    return Promise.resolve({ hasData: true, keyMatches: false, oversize: true });
  const crt = data?.['tls.crt'],
    key = data?.['tls.key'];
  if (!crt || !key) return Promise.resolve({ hasData: false, keyMatches: false });
  return parser.managedFacts({ crt, key });
}

/** The view without the leaf's KeyObject (a parse answer or a just-issued leaf may carry one). */
function slim(v: SecretView): SecretView {
  if (!v.leaf || !('publicKey' in v.leaf)) return v;
  const { publicKey: _drop, ...leaf } = v.leaf as CertFacts;
  return { ...v, leaf };
}

function remember(uid: string, rv: string, view: Promise<SecretView>): Promise<SecretView> {
  view = view.then(slim);
  cache.set(uid, { rv, view });
  if (cache.size > 100_000) cache.clear(); // uids of deleted Secrets are forgotten on delete; this only bounds a leak
  return view;
}

/** A Secret as the cache keeps it: metadata, type, digests and sizes, no data. */
export function projectSecret(raw: k8s.V1Secret): ProjectedSecret & { mio: SecretDigests } {
  const bytes = bytesOf(raw.data);
  const oversize = bytes > MANAGED_SECRET_MAX_BYTES;
  const { managedFields: _drop, ...metadata } = raw.metadata ?? {};
  return {
    apiVersion: raw.apiVersion ?? 'v1',
    kind: 'Secret',
    metadata,
    type: raw.type,
    mio: { digests: oversize ? {} : dataDigests(raw), bytes, oversize },
  };
}

/** What a Secret we just wrote holds is known without parsing it: remembered for its resourceVersion. */
export function primeView(written: k8s.V1Secret, view: SecretView): void {
  const uid = written.metadata?.uid;
  if (uid) void remember(uid, written.metadata?.resourceVersion ?? '', Promise.resolve(view));
}

/** The informer's transform: the projection to keep, with the parse of its certificate started in the pool. */
export function projectManagedSecret(raw: k8s.V1Secret, parser: Parser): ProjectedSecret {
  const out = projectSecret(raw);
  const { oversize } = out.mio;
  const uid = out.metadata?.uid,
    rv = out.metadata?.resourceVersion ?? '';
  if (uid && cache.get(uid)?.rv !== rv)
    void remember(
      uid,
      rv,
      parseView(parser, oversize ? undefined : raw.data).then((v) =>
        oversize ? { hasData: true, keyMatches: false, oversize } : v,
      ),
    );
  return out;
}

/**
 * What the Secret's certificate and key hold, parsed once per resourceVersion (in the pool).
 * `live` reads the full Secret when only a projection is at hand and its parse was forgotten.
 */
export async function inspectSecret(
  parser: Parser,
  secret: ProjectedSecret,
  live: () => Promise<k8s.V1Secret | undefined>,
): Promise<SecretView> {
  const uid = secret.metadata?.uid ?? '';
  const rv = secret.metadata?.resourceVersion ?? '';
  const hit = cache.get(uid);
  if (hit?.rv === rv) return hit.view;
  if (secret.mio?.oversize)
    return remember(uid, rv, Promise.resolve({ hasData: true, keyMatches: false, oversize: true }));
  return parseFull(parser, secret.mio ? await live() : secret, uid, rv);
}

/** The parse of a full Secret (its bytes at hand), remembered for the resourceVersion it was read at. */
function parseFull(parser: Parser, full: k8s.V1Secret | undefined, uid: string, rv: string): Promise<SecretView> {
  return remember(uid, full?.metadata?.resourceVersion ?? rv, parseView(parser, full?.data));
}

export function forgetSecret(uid: string | undefined): void {
  if (uid) cache.delete(uid);
}
