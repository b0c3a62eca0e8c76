// Fuzzing every parser that sees bytes from the cluster (issue #13): PEM splitting, DER/X.509,
// PKCS#12, PKCS#10 CSRs, the PodCertificateRequest key fields, and the inventory's extractors as the
// parse pool runs them. For random bytes, bit-flipped and truncated valid inputs: no crash (a result
// or an Error, never anything else), and no input over its time budget.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fc from 'fast-check';
import { constants, generateKeyPairSync, sign } from 'node:crypto';
import { generateCa, loadCaMaterial } from '../../src/issuers/ca-material.ts';
import { InClusterCaIssuer } from '../../src/issuers/in-cluster-ca.ts';
import { buildKeystore } from '../../src/pki/pkcs12.ts';
import { pkcs12Certificates, DEFAULT_PKCS12_BUDGET } from '../../src/pki/pkcs12-read.ts';
import { parseCertificateDer, splitPem } from '../../src/pki/certs.ts';
import { certificateOutline, csrOutline } from '../../src/pki/outlines.ts';
import { pemBlocks } from '../../src/pki/pem.ts';
import { parseCsr } from '../../src/pki/csr.ts';
import { requestKey, type PcrSpec } from '../../src/controllers/signer/pod-certificate.ts';
import {
  extractFromSecret,
  extractFromConfigMap,
  setParseBudget,
  DEFAULT_PARSE_BUDGET,
} from '../../src/inventory/extract.ts';
import { slimForParse } from '../../src/inventory/slim.ts';
import { Parser } from '../../src/parsing/parser.ts';
import { newKey, makeCsr, request } from './issuers-fixtures.ts';
import { stubCsr } from '../harness/stub-csr.ts';
import { pkcs12Bomb } from '../harness/pkcs12-bomb.ts';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
/** The budget these tests run the PKCS#12 reader with: small, so that the worst input stays fast here too. */
const P12_BUDGET = { ...DEFAULT_PKCS12_BUDGET, maxIterations: 50_000 };
/**
 * Per-input wall-time limit. It catches hangs (a budget not enforced costs seconds to minutes per input);
 * typical inputs take microseconds to a few milliseconds, but on a shared 2-core machine a descheduled
 * process or a GC pause adds hundreds of ms, so the bound is generous (MIO_FUZZ_PER_INPUT_MS to tighten).
 */
const PER_INPUT_MS = Number(process.env.MIO_FUZZ_PER_INPUT_MS ?? 1500);
const RUNS = Number(process.env.MIO_FUZZ_RUNS ?? 1500);

let certDer: Buffer,
  certPem = '',
  csrPem = '',
  stubDer: Buffer,
  p12: Buffer;
let pkix: { pkixPublicKey: string; proofOfPossession: string };

beforeAll(async () => {
  const ca = await generateCa({ commonName: 'Fuzz CA', durationMs: 86_400_000, key: { algorithm: 'ECDSA' } });
  const m = loadCaMaterial({ 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) });
  if (!m.ok) throw new Error(m.message);
  const key = await newKey('ECDSA');
  csrPem = await makeCsr(key, {
    subject: 'CN=fuzz',
    sans: [
      { type: 'dns', value: 'fuzz.team-a.svc' },
      { type: 'url', value: 'spiffe://cluster.local/ns/team-a/sa/fuzz' },
    ],
  });
  const r = await new InClusterCaIssuer(m).sign(request(csrPem));
  if (r.status !== 'issued') throw new Error('not issued');
  certPem = r.certificatePem;
  certDer = pemBlocks(certPem, ['CERTIFICATE'])[0]!;
  p12 = buildKeystore({ key, certificatePem: certPem, chainPem: [ca.certPem], password: 'pw', iterations: 1000 });
  stubDer = stubCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 3072 });
  pkix = {
    pkixPublicKey: b64(rsa.publicKey.export({ type: 'spki', format: 'der' })),
    proofOfPossession: b64(
      sign('sha256', Buffer.from('pod-uid'), {
        key: rsa.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      }),
    ),
  };
  setParseBudget({ ...DEFAULT_PARSE_BUDGET, pkcs12: P12_BUDGET });
});
afterAll(() => setParseBudget(DEFAULT_PARSE_BUDGET));

/** Random bytes, a valid sample with a few bytes changed (set, bit-flipped, zeroed, length bytes widened), or a prefix of it. */
function bytesLike(sample: () => Buffer, maxRandom = 4096): fc.Arbitrary<Buffer> {
  const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(3));
  return fc.oneof(
    fc.uint8Array({ maxLength: maxRandom }).map((b) => Buffer.from(b)),
    fc.array(edit, { minLength: 1, maxLength: 12 }).map((es) => {
      const b = Buffer.from(sample());
      for (const [at, v, op] of es) {
        const i = at % b.length;
        if (op === 0) b[i] = v;
        else if (op === 1) b[i] = b[i]! ^ (1 << (v % 8));
        else if (op === 2) b[i] = 0;
        else b[i] = 0x84; // a long-form length
      }
      return b;
    }),
    fc.nat().map((n) => {
      const s = sample();
      return s.subarray(0, n % (s.length + 1));
    }),
  );
}

/** Runs `fn` on every input: it must return or throw an Error, within PER_INPUT_MS. */
function survives<T>(
  arb: fc.Arbitrary<T>,
  fn: (x: T) => unknown,
  runs = RUNS,
): { ok: number; refused: number; slowestMs: number } {
  let ok = 0,
    refused = 0,
    slowestMs = 0;
  fc.assert(
    fc.property(arb, (x) => {
      const t0 = performance.now();
      try {
        fn(x);
        ok++;
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        refused++;
      }
      const ms = performance.now() - t0;
      slowestMs = Math.max(slowestMs, ms);
      expect(ms).toBeLessThan(PER_INPUT_MS);
    }),
    { numRuns: runs, seed: 13 },
  );
  return { ok, refused, slowestMs };
}

const pemOf =
  (label: string) =>
  (b: Buffer): string =>
    `-----BEGIN ${label}-----\n${b.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;

describe('fuzz: PEM', () => {
  it('pemBlocks and splitPem: any text, truncated and interleaved markers', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 2000 }),
      fc
        .array(
          fc.constantFrom(
            '-----BEGIN CERTIFICATE-----',
            '-----END CERTIFICATE-----',
            '-----BEGIN ',
            '-----',
            'MIIB',
            '\n',
            '\r\n',
            '====',
            ' ',
            'x',
          ),
          { maxLength: 200 },
        )
        .map((p) => p.join('')),
      fc.nat().map((n) => certPem.repeat(3).slice(0, n % (certPem.length * 3))),
    );
    survives(text, (t) => {
      pemBlocks(t, ['CERTIFICATE']);
      splitPem(t);
    });
  });
  it('over 1 MiB or over 100 blocks is refused, quickly', () => {
    expect(() => pemBlocks('x'.repeat(1024 * 1024 + 1), ['CERTIFICATE'])).toThrow(/too large/);
    const t0 = performance.now();
    expect(() => pemBlocks(certPem.repeat(101), ['CERTIFICATE'])).toThrow(/too many/);
    expect(performance.now() - t0).toBeLessThan(PER_INPUT_MS);
  });
});

describe('fuzz: DER / X.509', () => {
  it('parseCertificateDer and certificateOutline', () => {
    const r = survives(
      bytesLike(() => certDer),
      (b) => {
        try {
          certificateOutline(b);
        } finally {
          parseCertificateDer(b);
        }
      },
    );
    expect(r.ok).toBeGreaterThan(0); // truncations at full length are the valid certificate
  });
});

describe('fuzz: PKCS#12', () => {
  it('pkcs12Certificates on mutated keystores, with and without the password', () => {
    survives(
      fc.tuple(
        bytesLike(() => p12),
        fc.boolean(),
      ),
      ([b, pw]) => pkcs12Certificates(b, pw ? 'pw' : undefined, P12_BUDGET),
    );
  });
  it('mutated bombs stay within the budget (refused before deriving, or cheap)', () => {
    const bomb = pkcs12Bomb({ sections: 30, iterations: 20_000, password: 'pw' });
    survives(
      bytesLike(() => bomb, 256),
      (b) => pkcs12Certificates(b, 'pw', P12_BUDGET),
      300,
    );
  });
});

describe('fuzz: CSR', () => {
  it('parseCsr and csrOutline on PEM-wrapped mutations', () => {
    const der = pemBlocks(csrPem, ['CERTIFICATE REQUEST'])[0]!;
    survives(
      bytesLike(() => der),
      (b) => {
        try {
          csrOutline(b);
        } finally {
          parseCsr(pemOf('CERTIFICATE REQUEST')(b));
        }
      },
    );
  });
});

describe('fuzz: PodCertificateRequest fields', () => {
  const base: PcrSpec = {
    signerName: 'machineidentity.io/ca',
    podName: 'p',
    podUID: 'pod-uid',
    serviceAccountName: 'sa',
  };
  it('stubPKCS10Request: always a key or a refusal, never a throw', () => {
    survives(
      bytesLike(() => stubDer),
      (b) => {
        const r = requestKey({ ...base, stubPKCS10Request: b64(b) });
        expect(typeof r.ok).toBe('boolean');
      },
    );
  });
  it('pkixPublicKey and proofOfPossession (also not base64 at all)', () => {
    const spki = Buffer.from(pkix.pkixPublicKey, 'base64'),
      proof = Buffer.from(pkix.proofOfPossession, 'base64');
    survives(
      fc.tuple(
        bytesLike(() => spki, 600),
        bytesLike(() => proof, 600),
        fc.string({ maxLength: 50 }),
      ),
      ([k, p, junk]) => {
        const r = requestKey({
          ...base,
          pkixPublicKey: junk.length % 3 === 0 ? junk : b64(k),
          proofOfPossession: junk.length % 3 === 1 ? junk : b64(p),
        });
        expect(typeof r.ok).toBe('boolean');
        if (r.ok) expect(r.spkiDer.length).toBeGreaterThan(0);
      },
    );
  });
});

describe('fuzz: inventory extractors (never throw: only certificates and problems)', () => {
  it('Secrets and ConfigMaps with fuzzed values under certificate-looking keys', () => {
    survives(
      fc.tuple(
        bytesLike(() => certDer),
        bytesLike(() => p12, 512),
      ),
      ([a, b]) => {
        for (const x of [
          extractFromSecret({
            data: { 'tls.crt': b64(pemOf('CERTIFICATE')(a)), 'x.der': b64(a), 'k.p12': b64(b), password: b64('pw') },
          }),
          extractFromConfigMap({ data: { 'ca.crt': pemOf('CERTIFICATE')(a) }, binaryData: { 'b.p12': b64(b) } }),
        ]) {
          expect(Array.isArray(x.certs) && Array.isArray(x.problems)).toBe(true);
          for (const p of x.problems) expect(p.code).toBeDefined();
        }
      },
      500,
    );
  });
  it('through the parse pool (worker thread): every answer is certificates or problems', async () => {
    const parser = new Parser({ workers: 1, timeoutMs: 2000, heapMb: 64, maxKdfIterations: 50_000 });
    try {
      const inputs = fc.sample(
        fc.tuple(
          bytesLike(() => certDer),
          bytesLike(() => p12, 512),
        ),
        { numRuns: 100, seed: 7 },
      );
      for (const [a, b] of inputs) {
        const slim = slimForParse('Secret', {
          data: { 'tls.crt': b64(pemOf('CERTIFICATE')(a)), 'k.p12': b64(b), password: b64('pw') },
        })!;
        const x = await parser.extract('Secret', slim);
        expect(x.certs.length + x.problems.length).toBeGreaterThan(0);
      }
    } finally {
      await parser.close();
    }
  });
});
