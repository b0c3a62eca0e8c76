// Table tests for the in-process CA's decisions: lifetime, CA or not and its constraints, keyUsage
// and extendedKeyUsage, the order of a certificate's extensions, and the CSR checks' refusals.
import { describe, it, expect } from '@jest/globals';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { IssuerReason, SignReason } from '../../src/crds/reasons.ts';

const R = { ...SignReason, CANotGranted: IssuerReason.CANotGranted, CAExpiresTooSoon: IssuerReason.CAExpiresTooSoon };
import { caExtensions, issuesCA } from '../../src/issuers/ca-extensions.ts';
import { extensionsFor, type RequestedUse } from '../../src/issuers/certificate-extensions.ts';
import { isDenial, verifyCsr, type VerifiedCsr } from '../../src/issuers/csr-checks.ts';
import { backdatedNotBefore, cappedNotAfter, validityFor, wholeSeconds } from '../../src/issuers/lifetime.ts';
import { extKeyUsageExtension, keyUsageExtension } from '../../src/issuers/usage-extensions.ts';
import { buildCsr } from '../../src/pki/csr.ts';
import { children, readOid, readTlv, TAG } from '../../src/pki/der.ts';
import {
  basicConstraintsValue,
  EXTENSION_OIDS as OID,
  extKeyUsageValue,
  keyUsageValue,
} from '../../src/pki/extensions.ts';
import { encodeSan } from '../../src/pki/names.ts';
import { toPem } from '../../src/pki/pem.ts';
import { EXT_KEY_USAGE_OIDS, KEY_USAGE_BITS as KU } from '../../src/pki/usages.ts';
import { CA_CONSTRAINTS } from './issuers-fixtures.ts';

const HOUR = 3600_000;
const NOW = new Date('2030-01-01T00:00:00.500Z');
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SPKI = createPublicKey(ec.privateKey).export({ type: 'spki', format: 'der' });
const EMPTY_NAME = Buffer.from([0x30, 0x00]);
const NAME_CN_A = Buffer.from('300c310a30080603550403130161', 'hex'); // CN=a

function csr(
  o: { name?: Buffer; rsaKey?: boolean; ext?: Record<string, Buffer | [Buffer, boolean]> } = {},
): VerifiedCsr {
  const extensions = new Map(
    Object.entries(o.ext ?? {}).map(([oid, v]) => [
      oid,
      Array.isArray(v) ? { value: v[0], critical: v[1] } : { value: v, critical: false },
    ]),
  );
  return {
    subjectNameDer: o.name ?? NAME_CN_A,
    spkiDer: SPKI,
    publicKey: o.rsaKey ? rsa.publicKey : ec.publicKey,
    extensions,
  };
}

/** The names (and criticality, as '!') of DER Extension elements, in order. */
function outline(exts: Buffer[]): string[] {
  return exts.map((e) => {
    const [id, second] = children(e, readTlv(e, 0));
    const oid = id ? readOid(e, id) : '';
    const name = Object.entries(OID).find(([, v]) => v === oid)?.[0] ?? oid;
    return `${name}${second?.tag === TAG.BOOLEAN ? '!' : ''}`;
  });
}

describe('lifetime', () => {
  const caEnd = new Date('2030-01-01T02:00:00Z');
  it.each([
    ['requested', { durationMs: HOUR }, undefined, '2030-01-01T01:00:00.000Z'],
    ['capped by maxDuration', { durationMs: 10 * HOUR, maxDurationMs: HOUR }, undefined, '2030-01-01T01:00:00.000Z'],
    ['capped by the CA', { durationMs: 10 * HOUR }, caEnd, '2030-01-01T02:00:00.000Z'],
    ['whole seconds', { durationMs: 1_700 }, undefined, '2030-01-01T00:00:02.000Z'],
  ])('cappedNotAfter: %s', (_what, t, ca, want) => {
    expect(cappedNotAfter({ now: NOW, ...t }, ca).toISOString()).toBe(want);
  });
  it('notBefore is a minute ago, in whole seconds', () => {
    expect(backdatedNotBefore(NOW).toISOString()).toBe('2029-12-31T23:59:00.000Z');
    expect(wholeSeconds(1_999).getTime()).toBe(1_000);
  });
  it.each([
    ['a valid CA', { durationMs: HOUR }, caEnd, undefined],
    ['an expired CA', { durationMs: HOUR }, new Date('2029-12-31T00:00:00Z'), R.CAExpired],
    [
      'an exact validity past the CA',
      { durationMs: 0, validity: { notBefore: NOW, notAfter: new Date('2030-01-01T03:00:00Z') } },
      caEnd,
      R.CAExpiresTooSoon,
    ],
    [
      'an exact validity inside the CA',
      { durationMs: 0, validity: { notBefore: NOW, notAfter: new Date('2030-01-01T01:00:00Z') } },
      caEnd,
      undefined,
    ],
  ])('validityFor: %s', (_what, t, ca, reason) => {
    const v = validityFor({ now: NOW, ...t }, ca);
    expect(isDenial(v) ? v.reason : undefined).toBe(reason);
  });
});

describe('CA or not', () => {
  it.each([
    ['no basicConstraints, isCA false', {}, false, { isCA: false }],
    ['no basicConstraints, isCA true', {}, true, { isCA: true }],
    ['CSR CA:FALSE, isCA true', { [OID.basicConstraints]: basicConstraintsValue(false) }, true, { isCA: false }],
    ['CSR CA:TRUE, isCA true', { [OID.basicConstraints]: basicConstraintsValue(true) }, true, { isCA: true }],
    ['CSR CA:TRUE, isCA false', { [OID.basicConstraints]: basicConstraintsValue(true) }, false, R.CSRRequestsCA],
    ['malformed', { [OID.basicConstraints]: Buffer.from('0101ff', 'hex') }, true, R.InvalidCSR],
  ])('issuesCA: %s', (_what, ext, isCA, want) => {
    const r = issuesCA(csr({ ext }), { isCA });
    expect(isDenial(r) ? r.reason : r).toEqual(want);
  });
  it.each([
    ['a leaf', false, undefined, 'basicConstraints(CA:FALSE)', 0],
    ['a CA with a grant', true, CA_CONSTRAINTS, 'basicConstraints(CA:TRUE, pathLen 0)', 1],
    ['a CA without a grant', true, undefined, R.CANotGranted, 0],
  ] as const)('caExtensions: %s', (_what, isCA, caConstraints, want, nNameConstraints) => {
    const r = caExtensions(isCA, { isCA, caConstraints });
    if (isDenial(r)) return expect(r.reason).toBe(want);
    const value = isCA ? basicConstraintsValue(true, 0) : basicConstraintsValue(false);
    expect(r.basicConstraints.includes(value)).toBe(true);
    expect(r.nameConstraints).toHaveLength(nNameConstraints);
  });
});

describe('keyUsage and extendedKeyUsage', () => {
  const ku = (bits: number): Buffer => keyUsageValue(bits);
  it.each([
    ['from usages', undefined, ['digitalSignature', 'serverAuth'], false, false, ku(KU.digitalSignature)],
    ['none named, EC', undefined, ['serverAuth'], false, false, ku(KU.digitalSignature)],
    ['none named, RSA', undefined, ['serverAuth'], false, true, ku(KU.digitalSignature | KU.keyEncipherment)],
    ['a CA', undefined, [], true, false, ku(KU.digitalSignature | KU.certSign | KU.crlSign)],
    ['unknown names are ignored', undefined, ['nope'], false, false, ku(KU.digitalSignature)],
    ["the CSR's own", ku(KU.keyAgreement), ['digitalSignature'], false, false, ku(KU.keyAgreement)],
    ["the CSR's own, malformed", Buffer.from('0500', 'hex'), [], false, false, R.InvalidCSR],
  ])('keyUsageExtension: %s', (_what, requested, usages, isCA, rsaKey, want) => {
    const r = keyUsageExtension(
      requested && { value: requested, critical: true },
      usages,
      isCA,
      rsaKey ? rsa.publicKey : ec.publicKey,
    );
    if (isDenial(r)) return expect(r.reason).toBe(want);
    expect(Buffer.isBuffer(want) && r.includes(want)).toBe(true);
  });
  it.each([
    [
      'from usages, in order',
      undefined,
      ['clientAuth', 'digitalSignature', 'serverAuth'],
      [EXT_KEY_USAGE_OIDS.clientAuth, EXT_KEY_USAGE_OIDS.serverAuth],
    ],
    ['none', undefined, ['digitalSignature'], undefined],
    [
      "the CSR's own",
      extKeyUsageValue([EXT_KEY_USAGE_OIDS.codeSigning]),
      ['serverAuth'],
      [EXT_KEY_USAGE_OIDS.codeSigning],
    ],
    ["the CSR's own, malformed", Buffer.from('0500', 'hex'), [], R.InvalidCSR],
  ])('extKeyUsageExtension: %s', (_what, requested, usages, want) => {
    const r = extKeyUsageExtension(requested && { value: requested, critical: false }, usages);
    if (isDenial(r)) return expect(r.reason).toBe(want);
    expect(r === undefined ? undefined : r.includes(extKeyUsageValue(want as string[]))).toBe(
      want === undefined ? undefined : true,
    );
  });
});

describe('extensionsFor', () => {
  const san = encodeSan({ dnsNames: ['a.example'] }) ?? Buffer.alloc(0);
  it.each<[string, VerifiedCsr, RequestedUse, string | undefined]>([
    [
      'a leaf with a subject and SAN',
      csr({ ext: { [OID.subjectAltName]: san } }),
      { isCA: false, usages: ['serverAuth'] },
      'aki',
    ],
    ['a CA', csr(), { isCA: true, usages: [], caConstraints: CA_CONSTRAINTS }, undefined],
    [
      'an empty subject: SAN critical',
      csr({ name: EMPTY_NAME, ext: { [OID.subjectAltName]: san } }),
      { isCA: false, usages: [] },
      undefined,
    ],
  ])('%s: extensions in order', (_what, c, r, aki) => {
    const exts = extensionsFor(c, r, aki ? Buffer.from('0102', 'hex') : undefined);
    expect(isDenial(exts)).toBe(false);
    if (isDenial(exts)) return;
    const want = [
      'basicConstraints!',
      'keyUsage!',
      ...(r.usages.includes('serverAuth') ? ['extKeyUsage'] : []),
      ...(r.isCA ? ['nameConstraints!'] : []),
      ...(c.extensions.has(OID.subjectAltName)
        ? [c.subjectNameDer.length <= 2 ? 'subjectAltName!' : 'subjectAltName']
        : []),
      'subjectKeyIdentifier',
      ...(aki ? ['authorityKeyIdentifier'] : []),
    ];
    expect(outline(exts)).toEqual(want);
  });
  it.each([
    [
      'nothing to certify',
      csr({ name: EMPTY_NAME }),
      { isCA: false, usages: [] },
      R.InvalidCSR,
      /neither a subject nor a subjectAltName/,
    ],
    [
      'a malformed SAN',
      csr({ ext: { [OID.subjectAltName]: Buffer.from('0500', 'hex') } }),
      { isCA: false, usages: [] },
      R.InvalidCSR,
      /subjectAltName extension is malformed/,
    ],
    // basicConstraints is decided first: a CA request without a grant is refused before the empty subject
    [
      'the first refusal wins',
      csr({ name: EMPTY_NAME }),
      { isCA: true, usages: [] },
      R.CANotGranted,
      /name constraints of a grant/,
    ],
  ])('refuses %s', (_what, c, r, reason, message) => {
    const exts = extensionsFor(c, r, undefined);
    expect(isDenial(exts) && [exts.reason, message.test(exts.message)]).toEqual([reason, true]);
  });
});

describe('verifyCsr', () => {
  it.each([
    ['not PEM', 'hello', /no CERTIFICATE REQUEST PEM block found/],
    [
      'a PEM that is not a CSR',
      toPem(Buffer.from('3000', 'hex'), 'CERTIFICATE REQUEST'),
      /not a valid PEM PKCS#10 CSR/,
    ],
    ['bad base64', '-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n', /invalid base64/],
  ])('refuses %s as InvalidCSR', (_what, pem, message) => {
    const r = verifyCsr(pem);
    expect(r.ok ? undefined : [r.reason, message.test(r.message)]).toEqual([R.InvalidCSR, true]);
  });
  it('accepts a CSR it can verify, and refuses one whose signature was altered', async () => {
    const pem = await buildCsr(ec.privateKey, { subject: { commonName: 'a' }, usages: ['serverAuth'], isCA: false });
    expect(verifyCsr(pem).ok).toBe(true);
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der.writeUInt8(der.readUInt8(der.length - 5) ^ 0xff, der.length - 5);
    const r = verifyCsr(toPem(der, 'CERTIFICATE REQUEST'));
    expect(r.ok ? undefined : [r.reason, /does not verify/.test(r.message)]).toEqual([R.InvalidCSR, true]);
  });
  it('a CSR built in this process reads back the same with or without its second signature check', async () => {
    const pem = await buildCsr(ec.privateKey, {
      subject: { commonName: 'own' },
      dnsNames: ['own.example'],
      usages: ['serverAuth'],
      isCA: false,
    });
    const own = verifyCsr(pem); // taken from the CSRs built here: no verify
    const again = verifyCsr(pem); // taken once: now read and verified like any other CSR
    expect(own.ok && again.ok).toBe(true);
    if (!own.ok || !again.ok) return;
    expect(own.csr.subjectNameDer).toEqual(again.csr.subjectNameDer);
    expect(own.csr.spkiDer).toEqual(again.csr.spkiDer);
    expect(own.csr.extensions).toEqual(again.csr.extensions);
    expect(own.csr.publicKey.equals(again.csr.publicKey)).toBe(true);
  });
  it('an altered copy of a CSR built here is still verified (and refused)', async () => {
    const pem = await buildCsr(ec.privateKey, { subject: { commonName: 'b' }, usages: ['serverAuth'], isCA: false });
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der.writeUInt8(der.readUInt8(der.length - 5) ^ 0xff, der.length - 5);
    const r = verifyCsr(toPem(der, 'CERTIFICATE REQUEST'));
    expect(r.ok ? undefined : [r.reason, /does not verify/.test(r.message)]).toEqual([R.InvalidCSR, true]);
    expect(verifyCsr(pem).ok).toBe(true);
  });
});
