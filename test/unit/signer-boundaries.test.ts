// The signers' boundaries as pure decisions: which namespace a CSR requester is answered for, whether a
// binding's namespaceSelector selects it, whether a PodCertificateRequest matches its pod, and the
// csrRequesters field of the binding (zod; the same rules are CEL in the CRD).
import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import {
  CsrRequesterFields,
  csrRequesterScope,
  describeRequester,
  namespaceRefusal,
  ownershipRefusal,
  podMismatch,
  serviceAccountOf,
  type CsrRequesterEntry,
} from '../../src/controllers/signer/boundaries.ts';
import { csrDurationMs } from '../../src/controllers/signer/csr.ts';
import { lifetimeCapMs } from '../../src/policy/ownership.ts';
import type { CertificateShape } from '../../src/policy/types.ts';
import { requestKey, type PcrSpec } from '../../src/controllers/signer/pod-certificate.ts';
import { CertificateAuthorityBindingSpec } from '../../src/crds/certificate-authority-binding.ts';

const SA_GROUPS = (ns: string): string[] => [
  'system:serviceaccounts',
  `system:serviceaccounts:${ns}`,
  'system:authenticated',
];
const NODE = { username: 'system:node:worker-1', groups: ['system:nodes', 'system:authenticated'] };
const ALICE = { username: 'alice', groups: ['team-a', 'system:authenticated'] };

describe('serviceAccountOf', () => {
  it.each([
    {
      name: 'a ServiceAccount token',
      r: { username: 'system:serviceaccount:payments:api', groups: SA_GROUPS('payments') },
      want: 'payments/api',
    },
    {
      name: 'a dotted ServiceAccount name',
      r: { username: 'system:serviceaccount:payments:api.v2', groups: SA_GROUPS('payments') },
      want: 'payments/api.v2',
    },
    {
      name: 'the username without the namespace group (a client certificate with that CN)',
      r: { username: 'system:serviceaccount:payments:api', groups: ['system:authenticated'] },
      want: 'none',
    },
    {
      name: 'the group of another namespace',
      r: { username: 'system:serviceaccount:payments:api', groups: SA_GROUPS('kube-system') },
      want: 'none',
    },
    { name: 'a node', r: NODE, want: 'none' },
    { name: 'a user', r: ALICE, want: 'none' },
    {
      name: 'an extra colon',
      r: { username: 'system:serviceaccount:payments:api:x', groups: SA_GROUPS('payments') },
      want: 'none',
    },
    { name: 'an empty username', r: { username: '', groups: [] }, want: 'none' },
  ])('$name → $want', ({ r, want }) => {
    const sa = serviceAccountOf(r);
    expect(sa ? `${sa.namespace}/${sa.name}` : 'none').toBe(want);
  });
});

describe('csrRequesterScope', () => {
  const listing: CsrRequesterEntry[] = [
    { user: 'alice', namespace: 'team-a' },
    { group: 'system:nodes', namespace: 'node-identities' },
    { group: 'team-a', namespace: 'elsewhere' },
  ];
  it.each([
    {
      name: 'a ServiceAccount: its own namespace',
      r: { username: 'system:serviceaccount:payments:api', groups: SA_GROUPS('payments') },
      entries: [],
      want: 'payments via ServiceAccount',
    },
    {
      name: 'a ServiceAccount: its own namespace even when a listing names its group',
      r: { username: 'system:serviceaccount:payments:api', groups: [...SA_GROUPS('payments'), 'system:nodes'] },
      entries: listing,
      want: 'payments via ServiceAccount',
    },
    { name: 'a node, nothing listed: refused', r: NODE, entries: [], want: 'RequesterNotAllowed' },
    { name: 'a user, nothing listed: refused', r: ALICE, entries: [], want: 'RequesterNotAllowed' },
    { name: 'a node, its group listed', r: NODE, entries: listing, want: 'node-identities via csrRequesters' },
    {
      name: 'a user listed by name: the first entry that matches wins',
      r: ALICE,
      entries: listing,
      want: 'team-a via csrRequesters',
    },
    {
      name: 'a user listed by group',
      r: { username: 'bob', groups: ['team-a'] },
      entries: listing,
      want: 'elsewhere via csrRequesters',
    },
    {
      name: 'a user whose name is listed as a group does not match',
      r: { username: 'system:nodes', groups: [] },
      entries: listing,
      want: 'RequesterNotAllowed',
    },
    {
      name: 'a ServiceAccount-looking user without its group is not a ServiceAccount',
      r: { username: 'system:serviceaccount:payments:api', groups: [] },
      entries: [],
      want: 'RequesterNotAllowed',
    },
  ])('$name → $want', ({ r, entries, want }) => {
    const s = csrRequesterScope(r, entries, 'pki');
    expect(s.ok ? `${s.namespace} via ${s.via}` : s.reason).toBe(want);
  });

  it('tells the security team how to admit a refused requester, quoting hostile names', () => {
    const s = csrRequesterScope({ username: 'evil"; approved', groups: ['system:nodes'] }, [], 'pki');
    expect(s).toMatchObject({ ok: false, reason: 'RequesterNotAllowed' });
    expect(!s.ok && s.message).toContain(
      'requester "evil\\"; approved" (groups "system:nodes") is not a ServiceAccount and CertificateAuthorityBinding "pki" does not list it in spec.signer.csrRequesters',
    );
  });

  it("never places a requester in a namespace other than its ServiceAccount's or a listed one (property)", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.array(fc.string(), { maxLength: 4 }),
        fc.array(
          fc.record({
            user: fc.option(fc.string(), { nil: undefined }),
            group: fc.option(fc.string(), { nil: undefined }),
            namespace: fc.string(),
          }),
          { maxLength: 4 },
        ),
        (username, groups, entries) => {
          const s = csrRequesterScope({ username, groups }, entries, 'pki');
          if (!s.ok) return true;
          const sa = serviceAccountOf({ username, groups });
          return sa ? s.namespace === sa.namespace : entries.some((e) => e.namespace === s.namespace);
        },
      ),
    );
  });

  it('describes a requester without system:authenticated', () =>
    expect(describeRequester(NODE)).toBe('"system:node:worker-1" (groups "system:nodes")'));
});

describe('namespaceRefusal (decideAuthority, as MachineIdentities)', () => {
  const prod = { matchLabels: { tier: 'prod' } };
  it.each([
    { name: 'no selector: every namespace', sel: undefined, labels: {}, want: 'allowed' },
    { name: 'empty selector: every namespace', sel: {}, labels: undefined, want: 'allowed' },
    { name: 'tier=prod selects a prod namespace', sel: prod, labels: { tier: 'prod' }, want: 'allowed' },
    { name: 'tier=prod refuses an unlabelled namespace', sel: prod, labels: {}, want: 'AuthorityNotAllowed' },
    { name: 'tier=prod refuses an unknown namespace', sel: prod, labels: undefined, want: 'AuthorityNotAllowed' },
    {
      name: 'matchExpressions NotIn',
      sel: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['dev'] }] },
      labels: { tier: 'dev' },
      want: 'AuthorityNotAllowed',
    },
  ])('$name', ({ sel, labels, want }) => {
    const r = namespaceRefusal(
      { name: 'pods', namespaceSelector: sel },
      'team-a',
      labels as Record<string, string> | undefined,
      'PodCertificateRequests',
    );
    expect(r?.reason ?? 'allowed').toBe(want);
  });
  it('names the binding, the namespace, the selector and what to do', () => {
    expect(
      namespaceRefusal({ name: 'pods', namespaceSelector: prod }, 'team-a', {}, 'PodCertificateRequests')?.message,
    ).toBe(
      'CertificateAuthorityBinding "pods" does not serve namespace "team-a": its namespaceSelector does not match the namespace\'s labels ' +
        '(namespaceSelector {"matchLabels":{"tier":"prod"}}), so it signs no PodCertificateRequests there; label namespace "team-a" to match, or ask the security team to widen the selector',
    );
  });
});

describe('podMismatch', () => {
  const spec: PcrSpec = {
    signerName: 'machineidentity.io/pods',
    podName: 'web',
    podUID: 'u1',
    serviceAccountName: 'app',
    nodeName: 'n1',
  };
  const pod = { metadata: { uid: 'u1' }, spec: { serviceAccountName: 'app', nodeName: 'n1' } };
  it.each([
    { name: 'the pod the request describes', pod, want: 'ok' },
    { name: 'no such pod', pod: undefined, want: 'does not exist' },
    {
      name: 'another pod under the same name',
      pod: { ...pod, metadata: { uid: 'u2' } },
      want: 'has UID "u2", not "u1"',
    },
    {
      name: 'a pod running as another ServiceAccount',
      pod: { ...pod, spec: { serviceAccountName: 'admin', nodeName: 'n1' } },
      want: 'runs as ServiceAccount "admin", not "app"',
    },
    {
      name: 'a pod without serviceAccountName runs as default',
      pod: { ...pod, spec: { nodeName: 'n1' } },
      want: 'runs as ServiceAccount "default", not "app"',
    },
    {
      name: 'a pod on another node',
      pod: { ...pod, spec: { serviceAccountName: 'app', nodeName: 'n2' } },
      want: 'is on node "n2", not "n1"',
    },
  ])('$name', ({ pod: p, want }) => {
    const r = podMismatch('team-a', spec, p);
    expect(r ? r.message.replace(/^pod "team-a\/web" /, '').replace(/; the request.*$/, '') : 'ok').toBe(want);
    if (r) expect(r.reason).toBe('PodMismatch');
  });
});

describe('binding spec.signer.csrRequesters', () => {
  const base = { ca: { secretRef: { name: 'ca' } } };
  const parse = (csrRequesters: unknown[]): string => {
    const r = CertificateAuthorityBindingSpec.safeParse({
      ...base,
      signer: { certificateSigningRequests: true, csrRequesters },
    });
    return r.success ? 'ok' : r.error.issues.map((i) => i.message).join('; ');
  };
  it.each([
    { name: 'a group with a namespace', list: [{ group: 'system:nodes', namespace: 'node-identities' }], want: 'ok' },
    { name: 'a user with a namespace', list: [{ user: 'alice', namespace: 'team-a' }], want: 'ok' },
    {
      name: 'both user and group',
      list: [{ user: 'alice', group: 'x', namespace: 'team-a' }],
      want: 'a csrRequesters entry needs exactly one of user or group',
    },
    {
      name: 'neither',
      list: [{ namespace: 'team-a' }],
      want: 'a csrRequesters entry needs exactly one of user or group',
    },
    {
      name: 'no namespace',
      list: [{ group: 'system:nodes' }],
      want: 'Invalid input: expected string, received undefined',
    },
    {
      name: 'a ServiceAccount user',
      list: [{ user: 'system:serviceaccount:a:b', namespace: 'c' }],
      want: 'ServiceAccounts always belong to their own namespace and are not listed in csrRequesters',
    },
    {
      name: 'a ServiceAccount group',
      list: [{ group: 'system:serviceaccounts:a', namespace: 'c' }],
      want: 'ServiceAccounts always belong to their own namespace and are not listed in csrRequesters',
    },
  ])('$name', ({ list, want }) => expect(parse(list)).toBe(want));
});

describe("ownershipRefusal: the safe defaults in the requester's namespace", () => {
  const shape = (o: Partial<CertificateShape>): CertificateShape => ({
    namespace: 'ignored',
    subject: { organizations: [] },
    dnsNames: [],
    ipAddresses: [],
    uris: [],
    emailAddresses: [],
    usages: ['serverAuth'],
    isCA: false,
    key: { algorithm: 'ECDSA', size: 256 },
    ...o,
  });
  const binding = {
    name: 'pki',
    spec: {
      signer: {
        podCertificates: true,
        certificateSigningRequests: true,
        trustDomain: 'example.org',
        maxPodCertificateDuration: '24h',
      },
    },
  };
  const scope = (
    namespace: string,
  ): { namespace: string; namespaceLabels: Record<string, string>; clusterDomain: string } => ({
    namespace,
    namespaceLabels: {},
    clusterDomain: 'cluster.local',
  });
  it.each([
    {
      name: 'a listed node in node-identities: its own Service name',
      s: shape({ dnsNames: ['node.node-identities.svc'] }),
      ns: 'node-identities',
      want: 'allowed',
    },
    {
      name: 'a listed node: kubernetes.default.svc',
      s: shape({ dnsNames: ['kubernetes.default.svc'] }),
      ns: 'node-identities',
      want: 'NameNotOwned',
    },
    {
      name: 'a ServiceAccount of team-a: a name of kube-system',
      s: shape({ dnsNames: ['api.kube-system.svc'] }),
      ns: 'team-a',
      want: 'NameNotOwned',
    },
    {
      name: 'a ServiceAccount of team-a: an IP address',
      s: shape({ ipAddresses: ['10.0.0.1'] }),
      ns: 'team-a',
      want: 'NameNotOwned',
    },
    {
      name: 'a CA certificate',
      s: shape({ dnsNames: ['ca.team-a.svc'], isCA: true }),
      ns: 'team-a',
      want: 'CANotGranted',
    },
    {
      name: "a pod's SPIFFE ID in its namespace",
      s: shape({ uris: ['spiffe://example.org/ns/team-a/sa/app'] }),
      ns: 'team-a',
      want: 'allowed',
    },
    {
      name: "another namespace's SPIFFE ID",
      s: shape({ uris: ['spiffe://example.org/ns/payments/sa/api'] }),
      ns: 'team-a',
      want: 'NameNotOwned',
    },
  ])('$name → $want', ({ s: sh, ns, want }) => {
    const r = ownershipRefusal(sh, binding, scope(ns));
    expect(r?.reason ?? 'allowed').toBe(want);
    if (r)
      expect(r.message).toMatch(/^denied by the safe defaults: .*spec\.grants of CertificateAuthorityBinding "pki"/);
  });
  it("CSR lifetimes are capped at the binding's cap, 2160h when it sets no maxDuration", () => {
    expect(csrDurationMs(365 * 86_400, lifetimeCapMs({}))).toBe(2160 * 3_600_000);
    expect(csrDurationMs(365 * 86_400, lifetimeCapMs({ maxDuration: '48h' }))).toBe(48 * 3_600_000);
    expect(csrDurationMs(3600, lifetimeCapMs({}))).toBe(3_600_000);
  });
});

describe('CsrRequesterFields', () => {
  it.each([
    {
      name: 'what the API server writes',
      spec: { username: 'system:node:n1', groups: ['system:nodes'] },
      want: { username: 'system:node:n1', groups: ['system:nodes'] },
    },
    { name: 'nothing', spec: {}, want: { username: '', groups: [] } },
    {
      name: 'malformed fields count as nobody',
      spec: { username: 42, groups: 'system:nodes' },
      want: { username: '', groups: [] },
    },
  ])('$name', ({ spec, want }) => expect(CsrRequesterFields.parse(spec)).toEqual(want));
});

describe('hostile PodCertificateRequest fields (property)', () => {
  const spec: PcrSpec = {
    signerName: 'machineidentity.io/pods',
    podName: 'web',
    podUID: 'u1',
    serviceAccountName: 'app',
    nodeName: 'n1',
  };
  it('requestKey never throws on arbitrary stub CSRs or public keys, and refuses what is not a supported key', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        fc.boolean(),
        fc.uint8Array({ maxLength: 128 }),
        (bytes, stub, proof) => {
          const b64 = Buffer.from(bytes).toString('base64');
          const r = requestKey(
            stub
              ? { ...spec, stubPKCS10Request: b64 }
              : { ...spec, pkixPublicKey: b64, proofOfPossession: Buffer.from(proof).toString('base64') },
          );
          return !r.ok && ['InvalidRequest', 'UnsupportedKeyType', 'InvalidProofOfPossession'].includes(r.reason);
        },
      ),
      { numRuns: 300 },
    );
  });
  it('podMismatch accepts only the pod the request describes, whatever the strings', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (uid, sa, node) => {
        const r = podMismatch('ns', spec, { metadata: { uid }, spec: { serviceAccountName: sa, nodeName: node } });
        const same = uid === spec.podUID && (sa || 'default') === spec.serviceAccountName && node === spec.nodeName;
        return same ? r === undefined : r?.reason === 'PodMismatch';
      }),
    );
  });
});
