// The registry reads the typed (zod-parsed, defaulted) binding spec.
import { describe, it, expect } from '@jest/globals';
import {
  CertificateAuthorityBindingSpec,
  type CertificateAuthorityBindingSpecInput,
} from '../../src/crds/certificate-authority-binding.ts';
import { buildIssuer } from '../../src/issuers/registry.ts';

const ref = { name: 's', key: 'k' };
describe('registry on parsed specs', () => {
  it.each<[string, CertificateAuthorityBindingSpecInput, string | undefined, object]>([
    ['selfSigned', { selfSigned: {} }, undefined, { issuer: { backend: 'selfSigned' } }],
    [
      'acme with an rfc2136 solver (tsigAlgorithm defaulted)',
      {
        acme: {
          directoryURL: 'https://acme.example/dir',
          accountKeySecretRef: { name: 'a' },
          solvers: [{ dns01: { rfc2136: { nameserver: 'ns1', tsigKeyName: 'k', tsigSecretSecretRef: ref } } }],
        },
      },
      'c2VjcmV0',
      { issuer: { backend: 'acme' } },
    ],
    [
      'acme with an rfc2136 solver whose secret is missing',
      {
        acme: {
          directoryURL: 'https://acme.example/dir',
          accountKeySecretRef: { name: 'a' },
          solvers: [{ dns01: { rfc2136: { nameserver: 'ns1', tsigKeyName: 'k', tsigSecretSecretRef: ref } } }],
        },
      },
      undefined,
      { reason: 'TSIGSecretNotFound' },
    ],
    [
      'stepCA',
      { stepCA: { url: 'https://step.example', provisioner: { name: 'p', passwordSecretRef: ref } } },
      'pw\n',
      { issuer: { backend: 'stepCA' } },
    ],
    [
      'cfssl without an auth key',
      { cfssl: { url: 'https://cfssl.example' } },
      undefined,
      { issuer: { backend: 'cfssl' } },
    ],
    [
      'vault',
      { vault: { server: 'https://vault.example', path: 'pki/sign/r', auth: { tokenSecretRef: ref } } },
      undefined,
      { reason: 'BackendNotSupported' },
    ],
    ['ca without material', { ca: { secretRef: { name: 'ca' } } }, undefined, { reason: 'CASecretNotFound' }],
  ])('%s', (_what, input, secret, want) => {
    const spec = CertificateAuthorityBindingSpec.parse(input);
    expect(buildIssuer(spec, undefined, { secretValue: () => secret })).toMatchObject(want);
  });
});
