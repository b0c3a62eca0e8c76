// Acceptance (external CAs #1, part): one conformance table of identity shapes (each key type, each
// SAN kind, durations, CA certificates, long names) run over every backend against its real server,
// with a per-backend list of what it does not support; a new backend is one more line in BACKENDS.
// Here: selfSigned, ca (in-process), kubernetes (kube-controller-manager's
// kubernetes.io/kube-apiserver-client signer, CSRs approved as a cluster admin would) and cfssl (a real
// CFSSL built from its Go module, authenticated signing over HTTPS on loopback) and stepCA (a real
// step-ca with a JWK provisioner) and acme (a real Pebble validating HTTP-01 for real).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv, verifySecret, decode } from '../harness/identities.ts';
import { startCfssl, startPebble, startStepCa } from '../harness/ca-servers.ts';
import { freePort } from '../harness/processes.ts';
import { parseCertificate, splitPem } from '../../src/pki/certs.ts';

interface Shape {
  name: string;
  spec: Record<string, unknown>;
  check?: (c: ReturnType<typeof parseCertificate>) => void;
  needs: string[];
}
const H = 3_600_000;
const LONG_LABEL = 'a'.repeat(63);
const SHAPES: Shape[] = [
  {
    name: 'ECDSA P-256',
    spec: { privateKey: { algorithm: 'ECDSA', size: 256 } },
    needs: [],
    check: (c) => expect([c.keyAlgorithm, c.keySize]).toEqual(['ECDSA', 256]),
  },
  {
    name: 'ECDSA P-384',
    spec: { privateKey: { algorithm: 'ECDSA', size: 384 } },
    needs: [],
    check: (c) => expect(c.keySize).toBe(384),
  },
  {
    name: 'ECDSA P-521',
    spec: { privateKey: { algorithm: 'ECDSA', size: 521 } },
    needs: [],
    check: (c) => expect(c.keySize).toBe(521),
  },
  {
    name: 'RSA 2048',
    spec: { privateKey: { algorithm: 'RSA', size: 2048 } },
    needs: [],
    check: (c) => expect([c.keyAlgorithm, c.keySize]).toEqual(['RSA', 2048]),
  },
  {
    name: 'RSA 3072',
    spec: { privateKey: { algorithm: 'RSA', size: 3072 } },
    needs: [],
    check: (c) => expect(c.keySize).toBe(3072),
  },
  {
    name: 'Ed25519',
    spec: { privateKey: { algorithm: 'Ed25519' } },
    needs: ['ed25519'],
    check: (c) => expect(c.keyAlgorithm).toBe('Ed25519'),
  },
  {
    name: 'DNS names',
    spec: { dnsNames: ['a.example.com', 'b.example.com'] },
    needs: [],
    check: (c) => expect(c.dnsNames.sort()).toEqual(['a.example.com', 'b.example.com']),
  },
  // loopback addresses: an ACME CA validates IP identifiers by connecting to them
  {
    name: 'IP addresses',
    spec: { ipAddresses: ['127.0.0.1', '::1'] },
    needs: [],
    check: (c) => expect(c.ipAddresses).toEqual(['127.0.0.1', '::1']),
  },
  {
    name: 'URI (SPIFFE)',
    spec: { uris: ['spiffe://example.org/ns/x/sa/y'] },
    needs: ['uri'],
    check: (c) => expect(c.uris).toEqual(['spiffe://example.org/ns/x/sa/y']),
  },
  {
    name: 'e-mail address',
    spec: { emailAddresses: ['ops@example.com'] },
    needs: ['email'],
    check: (c) => expect(c.emailAddresses).toEqual(['ops@example.com']),
  },
  {
    name: 'subject with organization',
    spec: { subject: { commonName: 'svc', organizations: ['Example'] } },
    needs: ['subject'],
    check: (c) => expect(c.subjectDN).toMatch(/CN=svc/),
  },
  {
    name: 'duration 1h',
    spec: { duration: '1h' },
    needs: ['duration'],
    check: (c) => expect(Math.abs(c.notAfter.getTime() - c.notBefore.getTime() - H)).toBeLessThanOrEqual(5 * 60_000),
  },
  {
    name: 'duration 10m',
    spec: { duration: '10m' },
    needs: ['duration'],
    check: (c) =>
      expect(Math.abs(c.notAfter.getTime() - c.notBefore.getTime() - 10 * 60_000)).toBeLessThanOrEqual(5 * 60_000),
  },
  {
    name: 'long names',
    spec: {
      subject: { commonName: 'c'.repeat(64) },
      dnsNames: [`${LONG_LABEL}.${LONG_LABEL}.${LONG_LABEL}.${'d'.repeat(53)}.example`],
    },
    needs: ['subject'],
    check: (c) => expect(c.dnsNames[0]!.length).toBe(253),
  },
  {
    name: 'longest DNS name',
    spec: { dnsNames: [`${LONG_LABEL}.${LONG_LABEL}.${LONG_LABEL}.${'e'.repeat(53)}.example`] },
    needs: [],
    check: (c) => expect(c.dnsNames[0]!.length).toBe(253),
  },
  {
    name: 'server authentication',
    spec: { usages: ['serverAuth'] },
    needs: ['serverAuth'],
    check: (c) => expect(c.extKeyUsage).toContain('serverAuth'),
  },
  {
    name: 'CA certificate',
    spec: { isCA: true, usages: ['certSign', 'crlSign'] },
    needs: ['isCA'],
    check: (c) => expect(c.isCA).toBe(true),
  },
];

interface Backend {
  name: string;
  /** The binding spec; may start the CA server it talks to. */
  setup(): Promise<Record<string, unknown>>;
  /** Capabilities it refuses: the identity must show a clear Denied reason and get no certificate. */
  unsupported: string[];
  /** Capabilities it ignores: the identity is issued, but the CA decides (e.g. the lifetime of a CFSSL profile). */
  ignores?: string[];
  /** Fields every identity of this backend gets (before the shape's own). */
  base?: (name: string) => Record<string, unknown>;
}
const stops: (() => Promise<void>)[] = [];
const BACKENDS: Backend[] = [
  { name: 'selfSigned', setup: async () => ({ selfSigned: {} }), unsupported: [] },
  {
    name: 'ca',
    setup: async () => ({ ca: { secretRef: { name: `conf-ca-${ns}` }, generate: { commonName: 'Conformance CA' } } }),
    unsupported: [],
  },
  // kube-apiserver-client: client certificates only (no server auth, no CA), as the signer's documentation says
  {
    name: 'kubernetes',
    setup: async () => ({ kubernetes: { signerName: 'kubernetes.io/kube-apiserver-client' } }),
    unsupported: ['serverAuth', 'isCA'],
    base: () => ({ usages: ['clientAuth'] }),
  },
  // CFSSL signs with its profile's usages and never makes CA certificates through a leaf profile
  {
    name: 'cfssl',
    unsupported: ['isCA'],
    ignores: ['duration'],
    setup: async () => {
      const srv = await startCfssl();
      stops.push(srv.stop);
      await env.core.createNamespacedSecret({
        namespace: env.opNamespace,
        body: { metadata: { name: 'cfssl-auth' }, data: { key: Buffer.from(srv.authKeyHex).toString('base64') } },
      });
      return {
        cfssl: {
          url: srv.url,
          profile: srv.profile,
          authKeySecretRef: { name: 'cfssl-auth', key: 'key' },
          caBundle: srv.caPem,
        },
      };
    },
  },
  // step-ca's leaf template drops CA:TRUE (the operator refuses the result: CertificateMismatch); its JWK
  // provisioner lets durations from 5m to 2160h through
  {
    name: 'stepCA',
    unsupported: ['isCA'],
    setup: async () => {
      const srv = await startStepCa();
      stops.push(srv.stop);
      await env.core.createNamespacedSecret({
        namespace: env.opNamespace,
        body: {
          metadata: { name: 'stepca-password' },
          data: { password: Buffer.from(srv.password).toString('base64') },
        },
      });
      return {
        stepCA: {
          url: srv.url,
          provisioner: { name: srv.provisioner, passwordSecretRef: { name: 'stepca-password', key: 'password' } },
          caBundle: srv.rootPem,
        },
      };
    },
  },
  // ACME (Pebble, real HTTP-01 validation against the operator's listener, external account binding):
  // DNS names and IP addresses only, the CA writes the subject (a common name only as one of the names);
  // Pebble, like Let's Encrypt, refuses Ed25519 CSRs at finalize (badCSR), in its own words
  {
    name: 'acme',
    unsupported: ['isCA', 'uri', 'email', 'subject', 'ed25519'],
    base: (name) => ({ subject: {}, dnsNames: [`${name}.example.com`] }),
    setup: async () => {
      const srv = await startPebble({ httpPort: acmeHttpPort });
      stops.push(srv.stopAll);
      await env.core.createNamespacedSecret({
        namespace: env.opNamespace,
        body: { metadata: { name: 'conf-acme-eab' }, stringData: { hmac: srv.eab.hmacKeyB64u } },
      });
      return {
        acme: {
          directoryURL: srv.directoryURL,
          caBundle: srv.caBundle,
          accountKeySecretRef: { name: 'conf-acme-account' },
          rootCertificates: await srv.rootPem(),
          requestDuration: true,
          externalAccountBinding: { keyID: srv.eab.keyID, keySecretRef: { name: 'conf-acme-eab', key: 'hmac' } },
        },
      };
    },
  },
];

/**
 * What the shapes ask beyond the names a namespace owns, granted as a security team would: names
 * under example.com and the 253-character .example names, loopback addresses, one SPIFFE ID of
 * another trust domain, e-mail addresses, and CA certificates (name-constrained, path length 0).
 */
const GRANTS = [
  {
    dnsNames: ['*.example.com', `${LONG_LABEL}.${LONG_LABEL}.${LONG_LABEL}.*.example`],
    ipAddresses: ['127.0.0.1/32', '::1/128'],
    uris: ['spiffe://example.org/ns/x/sa/y'],
    emailAddresses: ['*@example.com'],
    allowCA: true,
  },
];

const env = new IssuanceEnv();
let acmeHttpPort = 0;
let ns = '';
let approver: NodeJS.Timeout | undefined;

beforeAll(async () => {
  ns = await testNamespace('conf');
  acmeHttpPort = await freePort();
  await env.start({ MIO_ACME_HTTP01_ADDR: `[::]:${acmeHttpPort}` });
  for (const b of BACKENDS) {
    await env.createBinding(`conf-${b.name.toLowerCase()}-${ns}`, { ...(await b.setup()), grants: GRANTS });
    await env.bindingReady(`conf-${b.name.toLowerCase()}-${ns}`);
  }
  // a cluster admin approving the operator's requests to kube-controller-manager's signer
  const certs = env.kc.makeApiClient(k8s.CertificatesV1Api);
  approver = setInterval(() => {
    void (async () => {
      const list = await certs.listCertificateSigningRequest({
        labelSelector: 'app.kubernetes.io/managed-by=machine-identity-operator',
      });
      for (const c of list.items) {
        if (c.status?.conditions?.length) continue;
        c.status = {
          conditions: [
            {
              type: 'Approved',
              status: 'True',
              reason: 'ConformanceTest',
              message: 'approved by the conformance test',
              lastUpdateTime: new Date(),
            },
          ],
        };
        await certs
          .replaceCertificateSigningRequestApproval({ name: c.metadata!.name!, body: c })
          .catch(() => undefined);
      }
    })().catch(() => undefined);
  }, 300);
}, 120_000);

afterAll(async () => {
  clearInterval(approver);
  await env.stop();
  for (const stop of stops) await stop();
});

const cases = BACKENDS.flatMap((b) =>
  SHAPES.map((s) => ({
    backend: b.name,
    shape: s.name,
    b,
    s,
    supported: s.needs.every((n) => !b.unsupported.includes(n)),
  })),
);

describe.each(BACKENDS.map((b) => ({ backend: b.name, b })))('$backend', ({ b }) => {
  it.each(cases.filter((c) => c.b === b).map((c) => ({ shape: c.shape, s: c.s, supported: c.supported })))(
    '$shape',
    async ({ s, supported }) => {
      const name = `${b.name.toLowerCase()}-${s.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`
        .slice(0, 60)
        .replace(/-$/, '');
      const authority = `conf-${b.name.toLowerCase()}-${ns}`;
      const spec = {
        secretName: `${name}-tls`,
        authorityRef: { name: authority },
        subject: { commonName: name.slice(0, 64) },
        ...(b.base?.(name) ?? {}),
        ...s.spec,
      };
      await env.createIdentity(ns, name, spec);
      if (!supported) {
        // not supported by this backend: a clear reason in status, never a broken Secret
        const mi = await env.condition(ns, name, 'Issuing', 'Denied', 30_000);
        expect(mi.status?.conditions?.find((c) => c.type === 'Issuing')?.message).toMatch(
          new RegExp(b.name === 'kubernetes' ? 'kubernetes|CertificateSigningRequest' : b.name),
        );
        return;
      }
      await env.ready(ns, name, 1, 40_000);
      const secret = await env.secret(ns, `${name}-tls`);
      verifySecret(secret);
      const leaf = parseCertificate(splitPem(decode(secret, 'tls.crt'))[0]!);
      if (!s.needs.some((n) => b.ignores?.includes(n))) s.check?.(leaf);
    },
    60_000,
  );
});

describe('every backend', () => {
  it('issued each supported identity exactly once: no CA answer makes the operator ask again', async () => {
    await new Promise((r) => setTimeout(r, 3000));
    const list = (await env.co.listNamespacedCustomObject({
      group: 'machineidentity.io',
      version: 'v1alpha1',
      plural: 'machineidentities',
      namespace: ns,
    })) as { items: { metadata: { name: string }; status?: { revision?: number } }[] };
    const reissued = list.items
      .filter((i) => (i.status?.revision ?? 0) > 1)
      .map((i) => `${i.metadata.name}: revision ${i.status?.revision}`);
    expect(reissued).toEqual([]);
    expect(list.items.filter((i) => i.status?.revision === 1).length).toBeGreaterThanOrEqual(
      cases.filter((c) => c.supported).length,
    );
  });
});
