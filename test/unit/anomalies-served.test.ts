// Probe-side anomalies (#16 item 4) from crafted ProbeResults, and namespace muting; table-tested.
import { describe, it, expect } from '@jest/globals';
import {
  coversName,
  dnsNameCovers,
  knownAuthority,
  servedAnomalies,
  weakTls,
  type KnownCertificates,
} from '../../src/validation/served-anomalies.ts';
import { applyMuting, muting } from '../../src/validation/muting.ts';
import type { ProbeResult, ServeTarget, ServedCert } from '../../src/validation/types.ts';
import type { AnomalyFinding } from '../../src/validation/anomaly-finding.ts';

type Ok = Extract<ProbeResult, { ok: true }>;
const fp = (n: number): string =>
  Array.from({ length: 32 }, () => n.toString(16).padStart(2, '0').toUpperCase()).join(':');
const cert = (over: Partial<ServedCert> = {}): ServedCert => ({
  serialNumber: '0a1b',
  fingerprintSHA256: fp(1),
  publicKeySHA256: fp(2),
  subjectDN: 'CN=web',
  issuerDN: 'CN=Team CA',
  notBefore: 0,
  notAfter: 1,
  dnsNames: ['web.a.svc'],
  ipAddresses: [],
  isCA: false,
  selfSigned: false,
  authorityKeyId: 'ca01',
  ...over,
});
const probe = (over: Partial<Ok> = {}): Ok => ({
  ok: true,
  at: 0,
  durationMs: 3,
  protocol: 'TLSv1.3',
  cipher: 'TLS_AES_128_GCM_SHA256',
  leaf: cert(),
  chain: [],
  presented: 1,
  clientCertRequested: false,
  ...over,
});
const target = (over: Partial<ServeTarget> = {}): ServeTarget => ({
  key: 'Service/a/web/443/web.a.svc',
  source: 'Service',
  namespace: 'a',
  name: 'web',
  secret: { namespace: 'a', name: 'web-tls' },
  sni: 'web.a.svc',
  service: { namespace: 'a', name: 'web', port: 443 },
  addresses: [{ ip: '10.0.0.5', port: 8443 }],
  ...over,
});
const CA = { authority: 'team-ca', subjectDN: 'CN=Team CA', subjectKeyId: 'ca01', fingerprintSHA256: fp(9) };
const known = (over: Partial<KnownCertificates> = {}): KnownCertificates => ({
  fingerprints: new Set([fp(1)]),
  cas: [CA],
  ...over,
});
const names = (fs: AnomalyFinding[]): string[] => fs.map((f) => f.anomaly);

describe('weakTls', () => {
  const cases: [string, string, boolean][] = [
    ['TLSv1.3', 'TLS_AES_128_GCM_SHA256', false],
    ['TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256', false],
    ['TLSv1.2', 'ECDHE-ECDSA-CHACHA20-POLY1305', false],
    ['TLSv1.2', 'ECDHE-RSA-AES128-SHA', false],
    ['TLSv1.2', 'DHE-RSA-AES256-SHA256', false],
    ['TLSv1.1', 'ECDHE-RSA-AES128-SHA', true],
    ['TLSv1', 'ECDHE-RSA-AES128-SHA', true],
    ['SSLv3', 'AES128-SHA', true],
    ['TLSv1.2', 'RC4-MD5', true],
    ['TLSv1.2', 'ECDHE-RSA-RC4-SHA', true],
    ['TLSv1.2', 'DES-CBC3-SHA', true],
    ['TLSv1.2', 'ECDHE-RSA-DES-CBC3-SHA', true],
    ['TLSv1.2', 'TLS_RSA_WITH_3DES_EDE_CBC_SHA', true],
    ['TLSv1.2', 'NULL-SHA256', true],
    ['TLSv1.2', 'TLS_RSA_WITH_NULL_SHA', true],
    ['TLSv1.2', 'EXP-RC4-MD5', true],
    ['TLSv1.2', 'TLS_RSA_EXPORT_WITH_RC4_40_MD5', true],
    ['TLSv1.2', 'ADH-AES128-SHA', true],
    ['TLSv1.2', 'AECDH-AES128-SHA', true],
    ['TLSv1.2', 'TLS_DH_anon_WITH_AES_128_CBC_SHA', true],
  ];
  it.each(cases)('%s %s → weak %s', (protocol, cipher, weak) => {
    expect(weakTls(protocol, cipher) !== undefined).toBe(weak);
  });
  it('names both reasons', () => {
    expect(weakTls('TLSv1', 'RC4-SHA')).toBe('protocol TLSv1 and cipher RC4-SHA');
  });
});

describe('names', () => {
  const cases: [string, string, boolean][] = [
    ['web.a.svc', 'web.a.svc', true],
    ['WEB.A.svc', 'web.a.SVC', true],
    ['web.a.svc.', 'web.a.svc', true],
    ['*.example.com', 'api.example.com', true],
    ['*.example.com', 'API.Example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', '.example.com', false],
    ['*.com', 'example.com', false],
    ['api.example.com', 'www.example.com', false],
    ['a*.example.com', 'ab.example.com', false],
  ];
  it.each(cases)('%s covers %s: %s', (pattern, host, want) => {
    expect(dnsNameCovers(pattern, host)).toBe(want);
  });
  it('IP literals match IP SANs only', () => {
    expect(coversName({ dnsNames: ['10.0.0.1'], ipAddresses: [] }, '10.0.0.1')).toBe(false);
    expect(coversName({ dnsNames: [], ipAddresses: ['10.0.0.1'] }, '10.0.0.1')).toBe(true);
    expect(coversName({ dnsNames: [], ipAddresses: ['fd00::1'] }, 'FD00::1')).toBe(true);
  });
});

describe('knownAuthority', () => {
  const cases: [string, Ok, KnownCertificates, string | undefined][] = [
    ['issued by a known CA (key identifier)', probe(), known(), 'team-ca'],
    [
      'issued by a known CA (DN, no key identifier)',
      probe({ leaf: cert({ authorityKeyId: undefined }) }),
      known(),
      'team-ca',
    ],
    [
      'key identifier of another CA with the same DN: not that CA (a name is easy to copy)',
      probe({ leaf: cert({ authorityKeyId: 'ffff' }) }),
      known(),
      undefined,
    ],
    [
      'unknown issuer DN and key identifier',
      probe({ leaf: cert({ issuerDN: 'CN=Evil', authorityKeyId: 'ee' }) }),
      known(),
      undefined,
    ],
    [
      'self-signed and in the inventory',
      probe({ leaf: cert({ selfSigned: true, issuerDN: 'CN=web', authorityKeyId: undefined }) }),
      known(),
      'self-signed',
    ],
    [
      'self-signed, nobody issued it',
      probe({ leaf: cert({ selfSigned: true, issuerDN: 'CN=web', fingerprintSHA256: fp(7) }) }),
      known(),
      undefined,
    ],
    [
      'the leaf is a known CA certificate itself',
      probe({ leaf: cert({ fingerprintSHA256: fp(9), selfSigned: true }) }),
      known({ fingerprints: new Set() }),
      'team-ca',
    ],
    [
      'through a presented intermediate that the known CA issued',
      probe({
        leaf: cert({ issuerDN: 'CN=Intermediate', authorityKeyId: 'int1' }),
        chain: [cert({ subjectDN: 'CN=Intermediate', subjectKeyId: 'int1', isCA: true, fingerprintSHA256: fp(5) })],
      }),
      known(),
      'team-ca',
    ],
    [
      'a presented intermediate nobody knows',
      probe({
        leaf: cert({ issuerDN: 'CN=Intermediate', authorityKeyId: 'int1' }),
        chain: [
          cert({
            subjectDN: 'CN=Intermediate',
            subjectKeyId: 'int1',
            isCA: true,
            issuerDN: 'CN=Evil root',
            authorityKeyId: 'evil',
            fingerprintSHA256: fp(5),
          }),
        ],
      }),
      known(),
      undefined,
    ],
    [
      'a non-CA certificate in the chain does not extend trust',
      probe({
        leaf: cert({ issuerDN: 'CN=Intermediate', authorityKeyId: 'int1' }),
        chain: [cert({ subjectDN: 'CN=Intermediate', subjectKeyId: 'int1', isCA: false, fingerprintSHA256: fp(5) })],
      }),
      known(),
      undefined,
    ],
  ];
  it.each(cases)('%s', (_name, r, k, want) => {
    expect(knownAuthority(r, k)).toBe(want);
  });
  it('a 16-certificate chain of unknown CAs ends (bounded)', () => {
    const chain = Array.from({ length: 16 }, (_v, i) =>
      cert({
        subjectDN: `CN=c${i}`,
        issuerDN: `CN=c${i + 1}`,
        subjectKeyId: `k${i}`,
        authorityKeyId: `k${i + 1}`,
        isCA: true,
        fingerprintSHA256: fp(20 + i),
      }),
    );
    expect(
      knownAuthority(probe({ leaf: cert({ issuerDN: 'CN=c0', authorityKeyId: 'k0' }), chain }), known()),
    ).toBeUndefined();
  });
});

describe('servedAnomalies', () => {
  const addr = { ip: '10.0.0.5', port: 8443 };
  const cases: [string, ServeTarget, Ok, KnownCertificates, string[]][] = [
    ['the managed certificate, modern TLS: nothing', target(), probe(), known(), []],
    [
      'a certificate in no inventory entry',
      target(),
      probe({ leaf: cert({ fingerprintSHA256: fp(3) }) }),
      known(),
      ['UnknownCertificate'],
    ],
    [
      'a self-signed certificate nobody issued',
      target(),
      probe({
        leaf: cert({ fingerprintSHA256: fp(3), selfSigned: true, issuerDN: 'CN=web', authorityKeyId: undefined }),
      }),
      known(),
      ['UnknownCertificate', 'UnknownAuthority'],
    ],
    [
      'a known certificate from an unknown CA',
      target(),
      probe({ leaf: cert({ issuerDN: 'CN=Other CA', authorityKeyId: 'bb' }) }),
      known(),
      ['UnknownAuthority'],
    ],
    ['a name the certificate does not cover', target({ sni: 'api.a.svc' }), probe(), known(), ['NameMismatch']],
    ['no SNI: names are not checked', target({ sni: '' }), probe({ leaf: cert({ dnsNames: [] }) }), known(), []],
    [
      'a wildcard covers the SNI',
      target({ sni: 'x.example.com' }),
      probe({ leaf: cert({ dnsNames: ['*.example.com'] }) }),
      known(),
      [],
    ],
    ['TLS 1.1', target(), probe({ protocol: 'TLSv1.1', cipher: 'ECDHE-RSA-AES128-SHA' }), known(), ['WeakTLS']],
    ['3DES under TLS 1.2', target(), probe({ protocol: 'TLSv1.2', cipher: 'DES-CBC3-SHA' }), known(), ['WeakTLS']],
  ];
  it.each(cases)('%s', (_name, t, r, k, want) => {
    expect(names(servedAnomalies(t, addr, r, k))).toEqual(want);
  });
  it('findings are about the serving object (a Gateway listener is its Gateway) and name the address', () => {
    const [f] = servedAnomalies(
      target({ source: 'Gateway', name: 'gw#https', sni: 'nope.example.com' }),
      addr,
      probe(),
      known(),
    );
    expect(f).toMatchObject({ anomaly: 'NameMismatch', namespace: 'a', kind: 'Gateway', name: 'gw' });
    expect(f?.message).toContain('10.0.0.5:8443');
    expect(f?.message).toContain('nope.example.com');
  });
});

describe('muting', () => {
  const cases: [string, Record<string, string> | undefined, boolean, string | undefined][] = [
    ['no annotations', undefined, false, undefined],
    ['other annotations', { a: 'b' }, false, undefined],
    ['listed', { 'machineidentity.io/mute-anomalies': 'WeakTLS, KeyReuse' }, true, undefined],
    [
      'listed, with a reason',
      { 'machineidentity.io/mute-anomalies': 'KeyReuse', 'machineidentity.io/mute-reason': ' lab ' },
      true,
      'lab',
    ],
    ['`*`', { 'machineidentity.io/mute-anomalies': '*', 'machineidentity.io/mute-reason': 'sandbox' }, true, 'sandbox'],
    ['other kinds only', { 'machineidentity.io/mute-anomalies': 'WeakTLS,NameMismatch' }, false, undefined],
    ['case matters (names are exact)', { 'machineidentity.io/mute-anomalies': 'keyreuse' }, false, undefined],
    ['a prefix is not a name', { 'machineidentity.io/mute-anomalies': 'Key' }, false, undefined],
  ];
  it.each(cases)('%s', (_name, annotations, muted, reason) => {
    expect(muting(annotations, 'KeyReuse')).toEqual(reason ? { muted, reason } : { muted });
  });
  it('a long reason is cut', () => {
    const m = muting(
      { 'machineidentity.io/mute-anomalies': '*', 'machineidentity.io/mute-reason': 'x'.repeat(5000) },
      'WeakTLS',
    );
    expect(m.reason).toHaveLength(256);
  });
  it('applyMuting: only the Namespace counts; flags set by a feeder are overwritten; cluster-scoped objects are never muted', () => {
    const ns: Record<string, Record<string, string>> = { quiet: { 'machineidentity.io/mute-anomalies': '*' } };
    const fs = applyMuting(
      [
        { anomaly: 'KeyReuse', namespace: 'quiet', kind: 'Secret', name: 'x', message: 'm' },
        {
          anomaly: 'KeyReuse',
          namespace: 'loud',
          kind: 'Secret',
          name: 'x',
          message: 'm',
          muted: true,
          muteReason: 'forged',
        },
        { anomaly: 'UnknownAuthority', namespace: '', kind: 'APIService', name: 'v1.x', message: 'm' },
      ],
      (n) => ns[n],
    );
    expect(fs.map((f) => [f.namespace, f.muted ?? false, f.muteReason])).toEqual([
      ['quiet', true, undefined],
      ['loud', false, undefined],
      ['', false, undefined],
    ]);
  });
});
