import { describe, it, expect } from '@jest/globals';
import { issuanceTrigger, type TriggerInput } from '../../src/controllers/issuance/triggers.ts';

const now = new Date('2026-06-01T00:00:00Z');
const day = 86_400_000;
const base = (): TriggerInput => ({
  now,
  desired: {
    commonName: 'web',
    dnsNames: ['web.example.com'],
    ipAddresses: [],
    uris: [],
    emailAddresses: [],
    isCA: false,
    keyAlgorithm: 'ECDSA',
    keySize: 256,
    authority: 'corp',
    durationMs: 2160 * 3_600_000,
  },
  secretExists: true,
  hasData: true,
  keyMatches: true,
  cert: {
    serialNumber: '01',
    notBefore: new Date(now.getTime() - day),
    notAfter: new Date(now.getTime() + 89 * day),
    commonName: 'web',
    dnsNames: ['web.example.com'],
    ipAddresses: [],
    uris: [],
    emailAddresses: [],
    isCA: false,
    keyAlgorithm: 'ECDSA',
    keySize: 256,
  },
  record: {
    revision: 3,
    authority: 'corp',
    authorityFingerprint: 'AA',
    requestedDuration: '2160h',
    requestedDurationMs: 2160 * 3_600_000,
    issuedAt: new Date(now.getTime() - day),
  },
  statusRevision: 3,
  renewalTime: new Date(now.getTime() + 59 * day),
  authorityFingerprint: 'AA',
  distrusted: new Set(),
});
type Mod = (i: TriggerInput) => void;
const cases: [string, Mod, string | undefined, boolean?][] = [
  ['a good certificate needs nothing', () => undefined, undefined],
  [
    'Secret missing',
    (i) => {
      i.secretExists = false;
      i.hasData = false;
      i.cert = undefined;
    },
    'DoesNotExist',
  ],
  [
    'data keys removed',
    (i) => {
      i.hasData = false;
    },
    'MissingData',
  ],
  [
    'garbage certificate',
    (i) => {
      i.cert = undefined;
    },
    'InvalidCertificate',
  ],
  [
    'key does not match',
    (i) => {
      i.keyMatches = false;
    },
    'InvalidKeyPair',
  ],
  [
    'rolled back to an older revision',
    (i) => {
      i.record.revision = 2;
    },
    'SecretRolledBack',
  ],
  [
    'a newer revision than status (crash after write) is not a rollback',
    (i) => {
      i.record.revision = 4;
    },
    undefined,
  ],
  [
    'no status revision yet (first adoption)',
    (i) => {
      i.statusRevision = undefined;
      i.record.revision = 1;
    },
    undefined,
  ],
  [
    'expired',
    (i) => {
      i.cert!.notAfter = new Date(now.getTime() - 1);
    },
    'Expired',
  ],
  [
    'expired beats spec change',
    (i) => {
      i.cert!.notAfter = now;
      i.desired.dnsNames = ['x.example.com'];
    },
    'Expired',
  ],
  [
    'dnsNames changed',
    (i) => {
      i.desired.dnsNames = ['web.example.com', 'www.example.com'];
    },
    'SpecChanged',
  ],
  [
    'dnsNames order and case do not matter',
    (i) => {
      i.cert!.dnsNames = ['WEB.example.com'];
    },
    undefined,
  ],
  [
    'the CA copied the common name into the SANs',
    (i) => {
      i.desired.commonName = 'web';
      i.cert!.commonName = 'web';
      i.cert!.dnsNames = ['web.example.com', 'web'];
    },
    undefined,
  ],
  [
    'no commonName asked: the CA may set one of the SANs as CN',
    (i) => {
      i.desired.commonName = undefined;
      i.cert!.commonName = 'web.example.com';
    },
    undefined,
  ],
  [
    'no commonName asked: any other CN is a change',
    (i) => {
      i.desired.commonName = undefined;
      i.cert!.commonName = 'intruder';
    },
    'SpecChanged',
  ],
  [
    'a SAN the CA added on its own is a change',
    (i) => {
      i.cert!.dnsNames = ['web.example.com', 'other.example.com'];
    },
    'SpecChanged',
  ],
  [
    'commonName changed',
    (i) => {
      i.desired.commonName = 'api';
    },
    'SpecChanged',
  ],
  [
    'ip added',
    (i) => {
      i.desired.ipAddresses = ['10.0.0.1'];
    },
    'SpecChanged',
  ],
  [
    'uri removed',
    (i) => {
      i.cert!.uris = ['spiffe://x/y'];
    },
    'SpecChanged',
  ],
  [
    'email added',
    (i) => {
      i.desired.emailAddresses = ['a@example.com'];
    },
    'SpecChanged',
  ],
  [
    'isCA flipped',
    (i) => {
      i.desired.isCA = true;
    },
    'SpecChanged',
  ],
  [
    'key algorithm changed',
    (i) => {
      i.desired.keyAlgorithm = 'RSA';
      i.desired.keySize = 2048;
    },
    'SpecChanged',
  ],
  [
    'key size changed',
    (i) => {
      i.desired.keySize = 384;
    },
    'SpecChanged',
  ],
  [
    'duration changed',
    (i) => {
      i.desired.durationMs = 24 * 3_600_000;
    },
    'SpecChanged',
  ],
  [
    'duration left to policy: a recorded duration is not a change',
    (i) => {
      i.desired.durationMs = undefined;
      i.record.requestedDuration = '720h';
      i.record.requestedDurationMs = 720 * 3_600_000;
    },
    undefined,
  ],
  [
    'the same duration written differently (90m in the record, 1h30m in the spec) is no change',
    (i) => {
      i.desired.durationMs = 90 * 60_000;
      i.record.requestedDuration = '90m';
      i.record.requestedDurationMs = 90 * 60_000;
    },
    undefined,
  ],
  [
    'key size left to policy: any size matches',
    (i) => {
      i.desired.keySize = undefined;
      i.cert!.keySize = 384;
    },
    undefined,
  ],
  [
    'unset key size still checks the algorithm',
    (i) => {
      i.desired.keySize = undefined;
      i.desired.keyAlgorithm = 'RSA';
    },
    'SpecChanged',
  ],
  [
    'policy remediation',
    (i) => {
      i.policyRemediation =
        'the current certificate violates IssuancePolicy p: lifetime "2160h" exceeds maxDuration 720h';
    },
    'PolicyRemediation',
    true,
  ],
  [
    'spec change beats policy remediation',
    (i) => {
      i.policyRemediation = 'x violates y';
      i.desired.dnsNames = ['a.example.com'];
    },
    'SpecChanged',
  ],
  [
    'policy remediation beats renewal time',
    (i) => {
      i.policyRemediation = 'x violates y';
      i.renewalTime = now;
    },
    'PolicyRemediation',
    true,
  ],
  [
    'authorityRef changed',
    (i) => {
      i.desired.authority = 'other';
    },
    'AuthorityChanged',
    true,
  ],
  [
    'signed by a distrusted CA',
    (i) => {
      i.distrusted = new Set(['AA']);
    },
    'AuthorityDistrusted',
    false,
  ],
  [
    'CA of the authority changed',
    (i) => {
      i.authorityFingerprint = 'BB';
    },
    'AuthorityChanged',
    true,
  ],
  [
    'selfSigned authority has no fingerprint to compare',
    (i) => {
      i.authorityFingerprint = undefined;
    },
    undefined,
  ],
  [
    'manual renewal after the last issuance',
    (i) => {
      i.renewRequestedAt = new Date(now.getTime() - 1000);
    },
    'ManuallyTriggered',
    true,
  ],
  [
    'manual renewal already served',
    (i) => {
      i.renewRequestedAt = new Date(now.getTime() - 2 * day);
    },
    undefined,
  ],
  [
    'a renewal requested for later waits for its time',
    (i) => {
      i.renewRequestedAt = new Date(now.getTime() + 60_000);
    },
    undefined,
  ],
  [
    'renewal time reached',
    (i) => {
      i.renewalTime = now;
    },
    'Renewing',
    true,
  ],
];

describe('issuanceTrigger', () => {
  it.each(cases.map(([name, mod, reason, stillValid]) => ({ name, mod, reason, stillValid })))(
    '$name',
    ({ mod, reason, stillValid }) => {
      const i = base();
      mod(i);
      const r = issuanceTrigger(i);
      expect(r?.reason).toBe(reason);
      if (reason) expect(r!.message.length).toBeGreaterThan(10);
      if (stillValid !== undefined) expect(r?.stillValid).toBe(stillValid);
    },
  );
  it('names every changed field', () => {
    const i = base();
    i.desired.dnsNames = [];
    i.desired.isCA = true;
    expect(issuanceTrigger(i)?.message).toMatch(/dnsNames, isCA/);
  });
});
