// Managed Secrets as the cache keeps them: no data, digests and sizes; oversize ones never read;
// facts parsed once per resourceVersion in the pool; drift told from digests.
import { describe, it, expect, afterAll } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { Parser } from '../../src/parsing/parser.ts';
import {
  inspectSecret,
  projectManagedSecret,
  projectSecret,
  primeView,
  MANAGED_SECRET_MAX_BYTES,
} from '../../src/controllers/issuance/inspect.ts';
import { metadataDrift } from '../../src/controllers/issuance/secret.ts';
import { generateCa } from '../../src/issuers/ca-material.ts';
import { parseCertificate } from '../../src/pki/certs.ts';

const parser = new Parser();
afterAll(() => parser.close());
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const secret = (uid: string, rv: string, data: Record<string, string>): k8s.V1Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'kubernetes.io/tls',
  metadata: {
    name: 's',
    namespace: 'ns',
    uid,
    resourceVersion: rv,
    labels: { 'machineidentity.io/identity': 'api' },
    managedFields: [{ manager: 'x' }],
  },
  data,
});

describe('managed Secret projection', () => {
  it('keeps metadata, type, a digest per key and the size; never the data or managedFields', () => {
    const p = projectSecret(secret('u1', '1', { 'tls.crt': b64('crt'), 'tls.key': b64('key') }));
    expect(p.data).toBeUndefined();
    expect(p.metadata?.managedFields).toBeUndefined();
    expect(Object.keys(p.mio!.digests).sort()).toEqual(['tls.crt', 'tls.key']);
    expect(p.mio).toMatchObject({ oversize: false, bytes: 6 });
    expect(JSON.stringify(p)).not.toContain(b64('key'));
  });
  it('over the cap: no digests, oversize, and inspect says so without reading anything', async () => {
    const big = secret('u2', '1', { 'tls.crt': b64(Buffer.alloc(MANAGED_SECRET_MAX_BYTES + 1)) });
    const p = projectManagedSecret(big, parser);
    expect(p.mio).toMatchObject({ oversize: true, digests: {} });
    let reads = 0;
    expect(
      await inspectSecret(parser, p, async () => {
        reads++;
        return big;
      }),
    ).toEqual({ hasData: true, keyMatches: false, oversize: true });
    expect(reads).toBe(0);
  });
  it('a garbage pair parses (in the worker) to no certificate, once per resourceVersion', async () => {
    const s = secret('u3', '7', { 'tls.crt': b64('garbage'), 'tls.key': b64('junk') });
    const p = projectManagedSecret(s, parser);
    let reads = 0;
    const live = async (): Promise<k8s.V1Secret> => {
      reads++;
      return s;
    };
    expect(await inspectSecret(parser, p, live)).toEqual({ hasData: true, keyMatches: false });
    expect(await inspectSecret(parser, p, live)).toEqual({ hasData: true, keyMatches: false });
    expect(reads).toBe(0); // the transform started the parse; nothing read from the API
  });
  it('a primed view (what we just wrote) is used as is', async () => {
    const s = secret('u4', '9', { 'tls.crt': b64('x'), 'tls.key': b64('y') });
    primeView(s, { hasData: true, keyMatches: true });
    expect(
      await inspectSecret(parser, projectSecret(s), async () => {
        throw new Error('no read expected');
      }),
    ).toEqual({ hasData: true, keyMatches: true });
  });
  it("the cache keeps the leaf's facts without its KeyObject (native memory, one per managed Secret)", async () => {
    const ca = await generateCa({ commonName: 'Cache Test', durationMs: 86_400_000, key: { algorithm: 'ECDSA' } });
    const s = secret('u5', '3', { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) });
    const none = async (): Promise<k8s.V1Secret> => {
      throw new Error('no read expected');
    };
    const parsed = await inspectSecret(parser, projectManagedSecret(s, parser), none);
    expect(parsed).toMatchObject({ hasData: true, keyMatches: true, leaf: { keyAlgorithm: 'ECDSA', keySize: 256 } });
    expect(parsed.leaf).not.toHaveProperty('publicKey');
    // a just-written Secret's view (the issuer's parse of the leaf carries one)
    const leaf = parseCertificate(ca.certPem);
    expect(leaf.publicKey).toBeDefined();
    const w = secret('u6', '4', {});
    primeView(w, { hasData: true, leaf, keyMatches: true });
    const primed = await inspectSecret(parser, projectSecret(w), none);
    expect(primed.leaf).toMatchObject({ fingerprintSHA256: leaf.fingerprintSHA256, keyAlgorithm: 'ECDSA' });
    expect(primed.leaf).not.toHaveProperty('publicKey');
  });
  it('a tenant edit after our write (a new resourceVersion of the same uid) is parsed again, not primed', async () => {
    const ours = secret('u8', '7', { 'tls.crt': b64('ours'), 'tls.key': b64('ours') });
    primeView(ours, { hasData: true, keyMatches: true });
    const edited = secret('u8', '8', { 'tls.crt': b64('theirs'), 'tls.key': b64('theirs') });
    const p = projectManagedSecret(edited, parser);
    expect(await inspectSecret(parser, p, async () => edited)).toEqual({ hasData: true, keyMatches: false });
    // and the same resourceVersion under another uid (another Secret) is not ours either
    const other = secret('u9', '7', { 'tls.crt': b64('theirs'), 'tls.key': b64('theirs') });
    expect(await inspectSecret(parser, projectManagedSecret(other, parser), async () => other)).toEqual({
      hasData: true,
      keyMatches: false,
    });
  });
  it('drift is told from digests on a projection (ca.crt compared only with the bytes at hand)', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const want = secret('u5', '1', {
      'tls.crt': b64('c'),
      'tls.key': b64(key),
      'ca.crt': b64('ca'),
      'keystore.p12': b64('k'),
    });
    const live = projectSecret(secret('u5', '1', { 'tls.crt': b64('c'), 'tls.key': b64(key), 'ca.crt': b64('other') }));
    expect(metadataDrift(live, want, { compareCa: false })).toBe('data keystore.p12');
    expect(metadataDrift(projectSecret(want), want)).toBeUndefined();
    expect(metadataDrift(live, { ...want, data: { ...want.data, 'keystore.p12': '' } })).toBe('data ca.crt');
  });
});
