import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeKey,
  encodePrivateKey,
  generateKey,
  keygenInFlight,
  keygenQueueLength,
  keyMatchesSpec,
  parsePrivateKey,
  publicKeyFingerprint,
  samePublicKey,
  setKeygenConcurrency,
} from '../../src/pki/keys.ts';
import type { KeyEncoding, KeySpec } from '../../src/pki/keys.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crypto-keys-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs openssl on `pem` written to a temp file; returns stdout+stderr, throws on a non-zero exit. */
function openssl(args: string[], pem: string): string {
  const f = join(dir, `in-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(f, pem);
  const r = spawnSync('/usr/bin/openssl', [...args, '-in', f], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout + r.stderr;
}

const SPECS: Array<{
  spec: KeySpec;
  want: { algorithm: string; size?: number };
  encodings: KeyEncoding[];
  wrong: KeyEncoding[];
}> = [
  {
    spec: { algorithm: 'ECDSA' },
    want: { algorithm: 'ECDSA', size: 256 },
    encodings: ['PKCS8', 'SEC1'],
    wrong: ['PKCS1'],
  },
  {
    spec: { algorithm: 'ECDSA', size: 384 },
    want: { algorithm: 'ECDSA', size: 384 },
    encodings: ['PKCS8', 'SEC1'],
    wrong: ['PKCS1'],
  },
  {
    spec: { algorithm: 'ECDSA', size: 521 },
    want: { algorithm: 'ECDSA', size: 521 },
    encodings: ['PKCS8', 'SEC1'],
    wrong: ['PKCS1'],
  },
  {
    spec: { algorithm: 'RSA' },
    want: { algorithm: 'RSA', size: 2048 },
    encodings: ['PKCS8', 'PKCS1'],
    wrong: ['SEC1'],
  },
  {
    spec: { algorithm: 'RSA', size: 3072 },
    want: { algorithm: 'RSA', size: 3072 },
    encodings: ['PKCS8', 'PKCS1'],
    wrong: ['SEC1'],
  },
  {
    spec: { algorithm: 'RSA', size: 4096 },
    want: { algorithm: 'RSA', size: 4096 },
    encodings: ['PKCS8', 'PKCS1'],
    wrong: ['SEC1'],
  },
  { spec: { algorithm: 'Ed25519' }, want: { algorithm: 'Ed25519' }, encodings: ['PKCS8'], wrong: ['PKCS1', 'SEC1'] },
];

const HEADERS: Record<KeyEncoding, string> = { PKCS8: 'PRIVATE KEY', PKCS1: 'RSA PRIVATE KEY', SEC1: 'EC PRIVATE KEY' };

describe('generateKey / encodePrivateKey / parsePrivateKey', () => {
  const keys = new Map<string, KeyObject>();
  beforeAll(async () => {
    for (const { spec } of SPECS) keys.set(JSON.stringify(spec), await generateKey(spec));
  });

  describe.each(SPECS)('$spec.algorithm $spec.size', ({ spec, want, encodings, wrong }) => {
    it('generates the requested key type and size', () => {
      const k = keys.get(JSON.stringify(spec))!;
      expect(k.type).toBe('private');
      expect(describeKey(k)).toMatchObject(want);
      expect(keyMatchesSpec(k, spec)).toBe(true);
      expect(keyMatchesSpec(k, { algorithm: 'Ed25519' })).toBe(spec.algorithm === 'Ed25519');
      if (spec.algorithm !== 'Ed25519')
        expect(keyMatchesSpec(k, { ...spec, size: spec.algorithm === 'RSA' ? 8192 : 999 })).toBe(false);
    });

    it.each(encodings)('%s: encodes, parses back and openssl accepts it', (enc) => {
      const k = keys.get(JSON.stringify(spec))!;
      const pem = encodePrivateKey(k, enc);
      expect(pem.startsWith(`-----BEGIN ${HEADERS[enc]}-----\n`)).toBe(true);
      const back = parsePrivateKey(pem);
      expect(describeKey(back)).toEqual(describeKey(k));
      expect(samePublicKey(back, k)).toBe(true);
      expect(publicKeyFingerprint(back)).toBe(publicKeyFingerprint(k));
      openssl(['pkey', '-noout'], pem);
      if (enc === 'PKCS1') expect(openssl(['rsa', '-check', '-noout'], pem)).toContain('RSA key ok');
      if (enc === 'SEC1') expect(openssl(['ec', '-check', '-noout'], pem)).toContain('EC Key valid');
    });

    it.each(wrong)('%s: refused with a clear error', (enc) => {
      const k = keys.get(JSON.stringify(spec))!;
      expect(() => encodePrivateKey(k, enc)).toThrow(
        enc === 'PKCS1' ? /PKCS1 encoding is only for RSA keys/ : /SEC1 encoding is only for ECDSA keys/,
      );
    });
  });

  it('refuses public keys and unknown encodings', () => {
    const k = keys.get(JSON.stringify({ algorithm: 'ECDSA' }))!;
    expect(() => encodePrivateKey(createPublicKey(k), 'PKCS8')).toThrow(/needs a private key/);
    expect(() => encodePrivateKey(k, 'DER' as KeyEncoding)).toThrow(/unknown private key encoding/);
  });

  it('rejects bad specs', async () => {
    await expect(generateKey({ algorithm: 'ECDSA', size: 255 })).rejects.toThrow(/unsupported ECDSA key size 255/);
    await expect(generateKey({ algorithm: 'RSA', size: 1024 })).rejects.toThrow(/unsupported RSA key size 1024/);
    await expect(generateKey({ algorithm: 'Ed25519', size: 256 })).rejects.toThrow(/Ed25519 keys take no size/);
    await expect(generateKey({ algorithm: 'DSA' as 'RSA' })).rejects.toThrow(/unsupported key algorithm "DSA"/);
  });
});

describe('parsePrivateKey errors never echo the input', () => {
  const secretish = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7';
  it.each([
    ['garbage', `not a key ${secretish}`, /no PEM private key found/],
    [
      'a certificate',
      `-----BEGIN CERTIFICATE-----\n${secretish}\n-----END CERTIFICATE-----\n`,
      /no PEM private key found/,
    ],
    [
      'a corrupt PKCS8 body',
      `-----BEGIN PRIVATE KEY-----\n${secretish}\n-----END PRIVATE KEY-----\n`,
      /invalid PRIVATE KEY PEM/,
    ],
    [
      'a corrupt SEC1 body',
      `-----BEGIN EC PRIVATE KEY-----\n${secretish}\n-----END EC PRIVATE KEY-----\n`,
      /invalid EC PRIVATE KEY PEM/,
    ],
    [
      'an encrypted key',
      `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${secretish}\n-----END ENCRYPTED PRIVATE KEY-----\n`,
      /encrypted private keys are not supported/,
    ],
    ['a huge input', 'A'.repeat(70_000), /too large/],
  ])('%s', (_name, input, re) => {
    let err: unknown;
    try {
      parsePrivateKey(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).not.toContain(secretish.slice(0, 12));
    expect(String((err as Error).stack)).not.toContain(secretish.slice(0, 12));
  });

  it('accepts keys made elsewhere (openssl ecparam SEC1 with explicit header, node PKCS1)', () => {
    const ec = execFileSync('/usr/bin/openssl', ['ecparam', '-name', 'secp384r1', '-genkey', '-noout'], {
      encoding: 'utf8',
    });
    expect(describeKey(parsePrivateKey(ec))).toEqual({ algorithm: 'ECDSA', size: 384, curve: 'secp384r1' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs1', format: 'pem' })
      .toString();
    expect(describeKey(parsePrivateKey(`\r\n${rsa.replace(/\n/g, '\r\n')}`))).toEqual({ algorithm: 'RSA', size: 2048 });
  });
});

describe('samePublicKey / publicKeyFingerprint', () => {
  it('compares private and public keys of every type', async () => {
    const a = await generateKey({ algorithm: 'Ed25519' });
    const b = await generateKey({ algorithm: 'Ed25519' });
    const c = await generateKey({ algorithm: 'ECDSA' });
    expect(samePublicKey(a, createPublicKey(a))).toBe(true);
    expect(samePublicKey(a, b)).toBe(false);
    expect(samePublicKey(a, c)).toBe(false);
    expect(publicKeyFingerprint(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(publicKeyFingerprint(a)).toBe(publicKeyFingerprint(createPublicKey(a)));
  });

  it('treats a compressed EC point as the same key', async () => {
    const k = await generateKey({ algorithm: 'ECDSA' });
    const compressed = execFileSync('/usr/bin/openssl', ['ec', '-pubout', '-conv_form', 'compressed'], {
      input: encodePrivateKey(k, 'SEC1'),
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    expect(samePublicKey(k, createPublicKey(compressed))).toBe(true);
    expect(samePublicKey(createPublicKey(compressed), k)).toBe(true);
    expect(samePublicKey(await generateKey({ algorithm: 'ECDSA' }), createPublicKey(compressed))).toBe(false);
  });

  it('RSA: the same modulus and exponent, another key, another curve', async () => {
    const r = await generateKey({ algorithm: 'RSA', size: 2048 });
    expect(samePublicKey(r, createPublicKey(r))).toBe(true);
    expect(samePublicKey(r, await generateKey({ algorithm: 'RSA', size: 2048 }))).toBe(false);
    const p256 = await generateKey({ algorithm: 'ECDSA', size: 256 });
    expect(samePublicKey(p256, await generateKey({ algorithm: 'ECDSA', size: 384 }))).toBe(false);
    expect(samePublicKey(p256, r)).toBe(false);
  });
});

describe('RSA keygen concurrency', () => {
  afterAll(() => setKeygenConcurrency(2));

  it('two RSA-4096 in parallel do not block the event loop', async () => {
    // One measurement can catch an unrelated pause (GC, another suite's module compilation); a blocking
    // keygen would stall the loop for the whole generation (300+ ms) in every attempt. Best of three.
    const attempt = async (): Promise<{
      maxDelay: number;
      wall: number;
      times: number[];
      sizes: (number | undefined)[];
    }> => {
      let maxDelay = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        maxDelay = Math.max(maxDelay, now - last - 10);
        last = now;
      }, 10);
      const t0 = performance.now();
      const times: number[] = [];
      const gen = async (): Promise<KeyObject> => {
        const s = performance.now();
        const k = await generateKey({ algorithm: 'RSA', size: 4096 });
        times.push(Math.round(performance.now() - s));
        return k;
      };
      const keys = await Promise.all([gen(), gen()]);
      clearInterval(timer);
      return { maxDelay, wall: Math.round(performance.now() - t0), times, sizes: keys.map((k) => describeKey(k).size) };
    };
    let best: Awaited<ReturnType<typeof attempt>> | undefined;
    for (let i = 0; i < 3 && (!best || best.maxDelay >= 100); i++) {
      const r = await attempt();
      expect(r.sizes).toEqual([4096, 4096]);
      if (!best || r.maxDelay < best.maxDelay) best = r;
    }
    console.log(
      `RSA-4096 x2 parallel: wall ${best!.wall} ms, each ${best!.times.join(' / ')} ms, max event-loop delay ${best!.maxDelay.toFixed(1)} ms`,
    );
    expect(best!.maxDelay).toBeLessThan(100);
  });

  it('queues RSA generations beyond the limit and reports the queue length', async () => {
    setKeygenConcurrency(1);
    const all = Promise.all([1, 2, 3].map(() => generateKey({ algorithm: 'RSA' })));
    expect(keygenInFlight()).toBe(1);
    expect(keygenQueueLength()).toBe(2);
    const ec = await generateKey({ algorithm: 'ECDSA' }); // EC never waits for the RSA queue
    expect(describeKey(ec).algorithm).toBe('ECDSA');
    expect(keygenQueueLength()).toBeGreaterThanOrEqual(1);
    setKeygenConcurrency(3); // raising the limit starts the waiting ones
    expect(keygenQueueLength()).toBe(0);
    await all;
    expect(keygenInFlight()).toBe(0);
    expect(() => setKeygenConcurrency(0)).toThrow(RangeError);
  });
});
