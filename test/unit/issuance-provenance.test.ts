// Whether a managed Secret's certificate is one the operator issued for the identity (a swapped key pair is not).
import { describe, it, expect, beforeAll } from '@jest/globals';
import { chainsTo, provenanceProblem, type ProvenanceInput } from '../../src/controllers/issuance/provenance.ts';
import { generateCa, loadCaMaterial } from '../../src/issuers/ca-material.ts';
import { InClusterCaIssuer } from '../../src/issuers/in-cluster-ca.ts';
import { makeCsr, newKey, request, secretData } from './issuers-fixtures.ts';

const base: ProvenanceInput = {
  leafFingerprint: 'AA:BB',
  statusFingerprint: 'AA:BB',
  secretRevision: 3,
  statusRevision: 3,
  chainsToAuthority: true,
  selfSigned: false,
};

describe('provenanceProblem', () => {
  const rows: { name: string; i: Partial<ProvenanceInput>; ours: boolean }[] = [
    { name: 'the certificate status records', i: {}, ours: true },
    { name: 'fingerprints compared case-insensitively', i: { leafFingerprint: 'aa:bb' }, ours: true },
    {
      name: 'a swapped pair: another certificate, same revision annotation',
      i: { leafFingerprint: 'CC:DD' },
      ours: false,
    },
    {
      name: 'a swapped pair with a forged newer revision that does not chain to the CA',
      i: { leafFingerprint: 'CC:DD', secretRevision: 9, chainsToAuthority: false },
      ours: false,
    },
    {
      name: 'a crash between Secret and status writes: a newer revision from our CA is adopted',
      i: { leafFingerprint: 'CC:DD', secretRevision: 4 },
      ours: true,
    },
    {
      name: 'an older revision is not adopted here (SecretRolledBack handles it)',
      i: { leafFingerprint: 'CC:DD', secretRevision: 2 },
      ours: false,
    },
    {
      name: 'no status yet and chains to our CA: adopted',
      i: { statusFingerprint: undefined, statusRevision: undefined, leafFingerprint: 'CC:DD' },
      ours: true,
    },
    {
      name: 'no status yet and a foreign CA',
      i: {
        statusFingerprint: undefined,
        statusRevision: undefined,
        leafFingerprint: 'CC:DD',
        chainsToAuthority: false,
      },
      ours: false,
    },
    {
      name: 'selfSigned: only the recorded fingerprint can tell, a different one is never adopted',
      i: { leafFingerprint: 'CC:DD', secretRevision: 4, selfSigned: true, chainsToAuthority: false },
      ours: false,
    },
  ];
  it.each(rows)('$name', ({ i, ours }) => {
    const input = { ...base, ...i } as ProvenanceInput;
    for (const k of Object.keys(input) as (keyof ProvenanceInput)[]) if (input[k] === undefined) delete input[k];
    const p = provenanceProblem(input);
    expect(p === undefined).toBe(ours);
    if (!ours) expect(p).toMatch(/was not issued for this identity/);
  });
});

describe('chainsTo', () => {
  let rootPem = '',
    otherRootPem = '',
    leafPem = '',
    interPem = '',
    deepLeafPem = '';
  beforeAll(async () => {
    const root = await generateCa({
      commonName: 'Root',
      durationMs: 86_400_000,
      key: { algorithm: 'ECDSA', size: 256 },
    });
    const other = await generateCa({
      commonName: 'Root',
      durationMs: 86_400_000,
      key: { algorithm: 'ECDSA', size: 256 },
    });
    rootPem = root.certPem;
    otherRootPem = other.certPem;
    const m = loadCaMaterial(secretData({ 'tls.crt': root.certPem, 'tls.key': root.keyPem }));
    if (!m.ok) throw new Error(m.message);
    const leaf = await new InClusterCaIssuer(m).sign(
      request(await makeCsr(await newKey('ECDSA'), { subject: 'CN=leaf' })),
    );
    if (leaf.status !== 'issued') throw new Error('leaf');
    leafPem = leaf.certificatePem;
    const interKey = await newKey('ECDSA');
    const inter = await new InClusterCaIssuer(m).sign(
      request(await makeCsr(interKey, { subject: 'CN=inter', isCA: true }), { isCA: true, usages: ['certSign'] }),
    );
    if (inter.status !== 'issued') throw new Error('inter');
    interPem = inter.certificatePem;
    const im = loadCaMaterial(
      secretData({
        'tls.crt': interPem,
        'tls.key': interKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        'ca.crt': rootPem,
      }),
    );
    if (!im.ok) throw new Error(im.message);
    const deep = await new InClusterCaIssuer(im).sign(
      request(await makeCsr(await newKey('ECDSA'), { subject: 'CN=deep' })),
    );
    if (deep.status !== 'issued') throw new Error('deep');
    deepLeafPem = deep.certificatePem;
  });
  it('a leaf signed by the CA', () => expect(chainsTo(leafPem, rootPem)).toBe(true));
  it('a leaf through the intermediate the Secret carries', () =>
    expect(chainsTo(deepLeafPem + interPem, rootPem)).toBe(true));
  it('not without the intermediate', () => expect(chainsTo(deepLeafPem, rootPem)).toBe(false));
  it('not to another CA with the same name', () => expect(chainsTo(leafPem, otherRootPem)).toBe(false));
  it('a self-signed certificate swapped in does not chain', async () => {
    const self = await generateCa({
      commonName: 'Root',
      durationMs: 86_400_000,
      key: { algorithm: 'ECDSA', size: 256 },
    });
    expect(chainsTo(self.certPem, rootPem)).toBe(false);
  });
  it('an oversized tls.crt is not parsed: it does not chain', () => {
    expect(chainsTo(leafPem + '#'.repeat(70 * 1024), rootPem)).toBe(false);
    expect(chainsTo(leafPem + 'x'.repeat(1024), rootPem)).toBe(true);
  });
  it('garbage never throws', () =>
    expect(chainsTo('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', rootPem)).toBe(false));
});
