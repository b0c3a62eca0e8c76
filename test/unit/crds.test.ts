// In-process validation of the three kinds: defaults, field-path errors, the TypeScript twins of the CEL rules.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  formatDuration,
  parseCertificateAuthorityBinding,
  parseDuration,
  parseIssuancePolicy,
  parseMachineIdentity,
  parseResource,
  mustParse,
  ValidationError,
} from '../../src/crds/index.ts';
import { CONTRACT_MACHINE_IDENTITY_NAME, contractMachineIdentitySpec } from '../fixtures/contract.ts';

const mi = (spec: Record<string, unknown>, name = 'web'): Record<string, unknown> => ({
  apiVersion: 'machineidentity.io/v1alpha1',
  kind: 'MachineIdentity',
  metadata: { name, namespace: 'demo' },
  spec: { secretName: 'web-tls', authorityRef: { name: 'local-ca' }, dnsNames: ['web.demo.svc'], ...spec },
});
const cab = (spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'machineidentity.io/v1alpha1',
  kind: 'CertificateAuthorityBinding',
  metadata: { name: 'ca' },
  spec,
});
const ipol = (spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'machineidentity.io/v1alpha1',
  kind: 'IssuancePolicy',
  metadata: { name: 'p' },
  spec: { rules: {}, ...spec },
});

function errorPaths(r: { success: boolean; error?: ValidationError }): string[] {
  expect(r.success).toBe(false);
  return (r.error?.issues ?? []).map((i) => i.path);
}

describe('parseMachineIdentity', () => {
  it('applies every default of the contract to a minimal object', () => {
    const r = mustParse(parseMachineIdentity(mi({})));
    expect(r.spec.duration).toBeUndefined(); // unset: 2160h, or shorter when a policy's maxDuration asks (src/policy/resolve.ts)
    expect(r.spec.usages).toEqual(['serverAuth']);
    expect(r.spec.isCA).toBe(false);
    expect(r.spec.deletionPolicy).toBe('Delete');
    expect(r.spec.privateKey).toEqual({ algorithm: 'ECDSA', rotationPolicy: 'Always', encoding: 'PKCS8' });
    expect(r.spec.renewBefore).toBeUndefined();
  });

  it('accepts the full example of the contract', () => {
    const r = parseMachineIdentity(
      {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'MachineIdentity',
        metadata: CONTRACT_MACHINE_IDENTITY_NAME,
        spec: contractMachineIdentitySpec(),
        status: {
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'Issued',
              message: 'ok',
              lastTransitionTime: '2026-11-28T10:00:00Z',
              observedGeneration: 3,
            },
          ],
          observedGeneration: 3,
          serialNumber: '5f2c',
          issuer: 'CN=Corp Issuing CA',
          notBefore: '2026-11-28T10:00:00Z',
          notAfter: '2027-02-26T10:00:00Z',
          renewalTime: '2027-01-27T10:00:00Z',
          revision: 4,
          failedIssuanceAttempts: 0,
          lastFailureTime: null,
        },
      },
      { strict: true },
    );
    expect(r.success).toBe(true);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['secretName that is not DNS-1123', { secretName: 'Bad_Name' }, 'spec.secretName'],
    ['missing authorityRef', { authorityRef: undefined }, 'spec.authorityRef'],
    [
      'renewBefore and renewBeforePercentage together',
      { renewBefore: '24h', renewBeforePercentage: 30 },
      'spec.renewBeforePercentage',
    ],
    ['renewBefore not shorter than duration', { duration: '24h', renewBefore: '24h' }, 'spec.renewBefore'],
    ['duration below 10m', { duration: '5m' }, 'spec.duration'],
    ['duration that is not a Go duration', { duration: '3 days' }, 'spec.duration'],
    ['ECDSA with an RSA size', { privateKey: { algorithm: 'ECDSA', size: 2048 } }, 'spec.privateKey.size'],
    ['RSA with an ECDSA size', { privateKey: { algorithm: 'RSA', size: 384 } }, 'spec.privateKey.size'],
    ['Ed25519 with a size', { privateKey: { algorithm: 'Ed25519', size: 256 } }, 'spec.privateKey.size'],
    ['PKCS1 with ECDSA', { privateKey: { algorithm: 'ECDSA', encoding: 'PKCS1' } }, 'spec.privateKey.encoding'],
    ['SEC1 with RSA', { privateKey: { algorithm: 'RSA', encoding: 'SEC1' } }, 'spec.privateKey.encoding'],
    ['unknown usage', { usages: ['serverAuth', 'world domination'] }, 'spec.usages[1]'],
    ['bad IP address', { ipAddresses: ['10.0.0.256'] }, 'spec.ipAddresses[0]'],
    ['bad DNS name', { dnsNames: ['ok.example.com', 'not ok'] }, 'spec.dnsNames[1]'],
    ['too many DNS names', { dnsNames: Array.from({ length: 101 }, (_, i) => `h${i}.example.com`) }, 'spec.dnsNames'],
    ['a 100 KB common name', { subject: { commonName: 'x'.repeat(100_000) } }, 'spec.subject.commonName'],
    ['rollout of a Pod', { rollout: { workloads: [{ kind: 'Pod', name: 'x' }] } }, 'spec.rollout.workloads[0].kind'],
    ['no identity at all', { dnsNames: [] }, 'spec'],
  ])('rejects %s', (_name, spec, path) => {
    const obj = mi(spec);
    if ('authorityRef' in spec && spec.authorityRef === undefined)
      delete (obj.spec as Record<string, unknown>).authorityRef;
    expect(errorPaths(parseMachineIdentity(obj))).toContain(path);
  });

  it('rejects a name longer than 63 characters (a label value on the Secret)', () => {
    expect(errorPaths(parseMachineIdentity(mi({}, 'a'.repeat(64))))).toContain('metadata.name');
  });

  it('reports unknown fields only in strict mode', () => {
    const obj = mi({ dnsName: ['typo.example.com'] });
    expect(parseMachineIdentity(obj).success).toBe(true);
    expect(errorPaths(parseMachineIdentity(obj, { strict: true }))).toEqual(['spec.dnsName']);
  });

  it('writes a readable message naming the object and every field', () => {
    const r = parseMachineIdentity(mi({ secretName: 'Bad_Name', duration: '1m' }));
    expect(r.success).toBe(false);
    if (!r.success) {
      expect(r.error.message).toMatch(/^invalid MachineIdentity "web": /);
      expect(r.error.message).toContain('spec.secretName: ');
      expect(r.error.message).toContain('spec.duration: must be a Go duration of at least 10m');
      expect(() => mustParse(r)).toThrow(ValidationError);
    }
  });
});

describe('parseCertificateAuthorityBinding', () => {
  it.each<[string, Record<string, unknown>]>([
    ['selfSigned', { selfSigned: {} }],
    ['ca with generate', { ca: { secretRef: { name: 'corp' }, generate: { commonName: 'Corp CA' } } }],
    [
      'acme',
      {
        acme: {
          directoryURL: 'https://acme.example/dir',
          accountKeySecretRef: { name: 'acct' },
          solvers: [{ http01: { ingress: {} } }],
        },
      },
    ],
    ['vault', { vault: { server: 'https://vault:8200', path: 'pki/sign/web', auth: { kubernetes: { role: 'mio' } } } }],
    [
      'stepCA',
      { stepCA: { url: 'https://step', provisioner: { name: 'mio', passwordSecretRef: { name: 'p', key: 'pw' } } } },
    ],
    ['cfssl', { cfssl: { url: 'https://cfssl', profile: 'server' } }],
    ['kubernetes', { kubernetes: { signerName: 'kubernetes.io/kube-apiserver-client' } }],
  ])('accepts exactly one backend: %s', (_name, spec) => {
    expect(parseCertificateAuthorityBinding(cab(spec)).success).toBe(true);
  });

  it('defaults the generated CA and the signer', () => {
    const r = mustParse(
      parseCertificateAuthorityBinding(
        cab({
          ca: { secretRef: { name: 'corp' }, generate: { commonName: 'Corp CA' } },
          signer: { podCertificates: true },
        }),
      ),
    );
    expect(r.spec.ca?.generate?.duration).toBe('87600h');
    expect(r.spec.ca?.generate?.privateKey).toEqual({ algorithm: 'ECDSA' });
    expect(r.spec.signer).toEqual({
      podCertificates: true,
      certificateSigningRequests: false,
      trustDomain: 'cluster.local',
      maxPodCertificateDuration: '24h',
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no backend', {}, 'spec'],
    ['two backends', { selfSigned: {}, kubernetes: { signerName: 'example.com/x' } }, 'spec'],
    [
      'vault with two auth methods',
      {
        vault: {
          server: 'https://v',
          path: 'pki/sign/x',
          auth: { tokenSecretRef: { name: 't', key: 'k' }, kubernetes: { role: 'r' } },
        },
      },
      'spec.vault.auth',
    ],
    [
      'generated CA with an Ed25519 size',
      {
        ca: {
          secretRef: { name: 'c' },
          generate: { commonName: 'c', privateKey: { algorithm: 'Ed25519', size: 256 } },
        },
      },
      'spec.ca.generate.privateKey.size',
    ],
    [
      'pod certificates longer than maxDuration',
      { selfSigned: {}, maxDuration: '12h', signer: { podCertificates: true } },
      'spec.signer.maxPodCertificateDuration',
    ],
    [
      'a distrust entry that is not a fingerprint',
      { selfSigned: {}, distrust: ['not-a-fingerprint'] },
      'spec.distrust[0]',
    ],
  ])('rejects %s', (_name, spec, path) => {
    expect(errorPaths(parseCertificateAuthorityBinding(cab(spec)))).toContain(path);
  });
});

describe('parseIssuancePolicy', () => {
  it('defaults enforcement and remediation', () => {
    const r = mustParse(parseIssuancePolicy(ipol({})));
    expect(r.spec.enforcement).toBe('Enforce');
    expect(r.spec.remediation).toBe('None');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['minDuration above maxDuration', { rules: { minDuration: '48h', maxDuration: '24h' } }, 'spec.rules.minDuration'],
    ['an unknown enforcement', { enforcement: 'Warn' }, 'spec.enforcement'],
    [
      'a bad CIDR',
      { rules: { ipAddresses: { allowedCIDRs: ['10.0.0.0/33'] } } },
      'spec.rules.ipAddresses.allowedCIDRs[0]',
    ],
    [
      'an unknown signature algorithm',
      { rules: { allowedSignatureAlgorithms: ['ROT13'] } },
      'spec.rules.allowedSignatureAlgorithms[0]',
    ],
    ['missing rules', { rules: undefined }, 'spec.rules'],
  ])('rejects %s', (_name, spec, path) => {
    expect(errorPaths(parseIssuancePolicy(ipol(spec)))).toContain(path);
  });
});

describe('parseResource', () => {
  it('dispatches on kind and rejects unknown kinds', () => {
    expect(parseResource(ipol({})).success).toBe(true);
    expect(errorPaths(parseResource({ kind: 'Certificate' }))).toEqual(['kind']);
  });

  it('never throws on hostile input', () => {
    fc.assert(
      fc.property(fc.anything(), (v) => {
        for (const f of [parseMachineIdentity, parseCertificateAuthorityBinding, parseIssuancePolicy]) {
          expect(typeof f(v, { strict: true }).success).toBe('boolean');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('Go durations', () => {
  it.each([
    ['90m', 5_400_000],
    ['1h30m', 5_400_000],
    ['2160h', 7_776_000_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
    ['10µs', 0.01],
  ])('parses %s', (s, ms) => expect(parseDuration(s)).toBeCloseTo(ms));
  it.each(['', '0', '-1h', '1d', 'h', '1h ', '99999999999999h'])('rejects %j', (s) =>
    expect(parseDuration(s)).toBeUndefined(),
  );
  it('formats what it parses', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9e9 }), (sec) => {
        expect(parseDuration(formatDuration(sec * 1000))).toBe(sec * 1000);
      }),
    );
  });
});
