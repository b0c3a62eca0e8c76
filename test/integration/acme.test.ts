// Acceptance (external CAs #2, #3, #4 for ACME): a real Pebble validates HTTP-01 against the operator's
// own listener and DNS-01 against records the operator wrote into a real BIND 9 with RFC 2136 + TSIG;
// external account binding is required; 5% of nonces are refused (badNonce retries always run). A CA
// outage is reported, backed off and recovered from; deletion revokes at Pebble; refusals carry
// Pebble's own words in status, Events and metrics.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv, verifySecret, decode, GRANT_EXAMPLE_COM } from '../harness/identities.ts';
import { caServerBins, startPebble, type PebbleServer } from '../harness/ca-servers.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { freePort, waitFor } from '../harness/processes.ts';
import { parseCertificate, splitPem, certificateMatchesKey } from '../../src/pki/certs.ts';
import { parsePrivateKey } from '../../src/pki/keys.ts';
import { txtValues } from '../../src/issuers/acme/rfc2136.ts';
import { AcmeClient } from '../../src/issuers/acme/client.ts';
import { generateKey } from '../../src/pki/keys.ts';

const env = new IssuanceEnv();
let ns = '';
let pebble: PebbleServer;
let authority = '';
let rootPem = '';
let opEnv: Record<string, string> = {};

const MI = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'machineidentities' } as const;

/** Every object a watch sees added (a short-lived challenge route can come and go between two polls). */
async function watchAdded<T extends k8s.KubernetesObject>(
  path: string,
  labelSelector: string,
): Promise<{ seen: Map<string, T>; stop: () => void }> {
  const seen = new Map<string, T>();
  const req = await new k8s.Watch(env.kc).watch(
    path,
    { labelSelector },
    (type, obj: T) => {
      if (type === 'ADDED' || type === 'MODIFIED') seen.set(obj.metadata!.name!, obj);
    },
    () => undefined,
  );
  return { seen, stop: () => req.abort() };
}

beforeAll(async () => {
  ns = await testNamespace('acme');
  const httpPort = await freePort();
  pebble = await startPebble({ httpPort });
  rootPem = await pebble.rootPem();
  opEnv = {
    MIO_ACME_HTTP01_ADDR: `[::]:${httpPort}`,
    MIO_POD_IP: '10.244.0.10',
    MIO_ACME_HTTP01_SERVICE: 'mio-acme-http01',
  };
  await env.start(opEnv);
  await env.core.createNamespacedSecret({
    namespace: env.opNamespace,
    body: { metadata: { name: 'acme-eab' }, stringData: { hmac: pebble.eab.hmacKeyB64u } },
  });
  await env.core.createNamespacedSecret({
    namespace: env.opNamespace,
    body: { metadata: { name: 'acme-tsig' }, stringData: { secret: pebble.dns.tsigSecretB64 } },
  });
  authority = env.uniqueName('pebble');
  await env.createBinding(authority, {
    acme: {
      directoryURL: pebble.directoryURL,
      caBundle: pebble.caBundle,
      email: 'pki@example.com',
      accountKeySecretRef: { name: 'acme-account' },
      externalAccountBinding: { keyID: pebble.eab.keyID, keySecretRef: { name: 'acme-eab', key: 'hmac' } },
      rootCertificates: rootPem,
      requestDuration: true,
      solvers: [
        {
          selector: { dnsZones: [pebble.dns.zone] },
          dns01: {
            rfc2136: {
              nameserver: pebble.dns.nameserver,
              tsigKeyName: pebble.dns.tsigKeyName,
              tsigSecretSecretRef: { name: 'acme-tsig', key: 'secret' },
            },
          },
        },
        { selector: { dnsNames: [`noaddr.${pebble.dns.zone}`] }, http01: {} },
        { http01: {} },
      ],
    },
    // the names this ACME binding serves are public or corporate names no namespace owns: the security team grants them
    grants: [
      {
        dnsNames: ['*.example.com', `*.${pebble.dns.zone}`, `*.*.${pebble.dns.zone}`, '*.blocked.example'],
        allowWildcards: true,
        ipAddresses: ['127.0.0.1/32', '::1/128'],
        uris: ['spiffe://example.org/x'],
      },
    ],
  });
}, 120_000);

afterAll(async () => {
  await env.stop();
  await pebble.stopAll();
});

describe('account', () => {
  it('registers with external account binding and keeps the account key in a Secret it created', async () => {
    const status = (await env.bindingReady(authority, 30_000)) as { conditions: { type: string; message: string }[] };
    expect(status.conditions.find((c) => c.type === 'Ready')?.message).toMatch(
      new RegExp(
        `^ACME server ${pebble.directoryURL.replace(/[.]/g, '\\.')}, account https://127\\.0\\.0\\.1:\\d+/my-account/\\w+$`,
      ),
    );
    const s = await env.core.readNamespacedSecret({ name: 'acme-account', namespace: env.opNamespace });
    expect(s.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('machine-identity-operator');
    expect(parsePrivateKey(decode(s, 'tls.key')).asymmetricKeyType).toBe('ec');
  });

  it("without the binding Pebble requires, the binding is not Ready and says why in Pebble's words", async () => {
    const name = env.uniqueName('pebble-noeab');
    await env.createBinding(name, {
      acme: {
        directoryURL: pebble.directoryURL,
        caBundle: pebble.caBundle,
        accountKeySecretRef: { name: 'acme-account-noeab' },
      },
    });
    await waitFor(
      'Ready=False AccountRegistrationFailed',
      async () => {
        const b = (await env.co.getClusterCustomObject({
          group: 'machineidentity.io',
          version: 'v1alpha1',
          plural: 'certificateauthoritybindings',
          name,
        })) as { status?: { conditions?: { type: string; reason: string; message: string }[] } };
        const r = b.status?.conditions?.find((c) => c.type === 'Ready');
        return r?.reason === 'AccountRegistrationFailed' && r.message.includes('externalAccountRequired')
          ? r
          : undefined;
      },
      30_000,
      200,
    );
  });

  it('retries every badNonce the server sends (Pebble refuses 5% of good nonces)', async () => {
    const c = new AcmeClient({
      directoryURL: pebble.directoryURL,
      ca: pebble.caBundle,
      accountKey: await generateKey({ algorithm: 'ECDSA' }),
      eab: { keyID: pebble.eab.keyID, hmacKey: Buffer.from(pebble.eab.hmacKeyB64u, 'base64url') },
    });
    const kid = await c.account();
    // at 5% a run of 80 requests sees no refusal 1.7% of the time: ask until one came (0.95^400 < 1e-8), all answered
    for (let i = 0; i < 400 && c.counters.badNonceRetries === 0; i++) await c.get(kid, 'account');
    expect(c.counters.badNonceRetries).toBeGreaterThan(0);
  }, 60_000);
});

describe('a crash while an order is open', () => {
  it('resumes the same order after a restart (saved in status.pendingRequest) and deletes the DNS records the dead process wrote', async () => {
    const record = `_acme-challenge.resumed.${pebble.dns.zone}`;
    await env.restart({ ...opEnv, MIO_CRASH_AT: 'after-pending-status' });
    const op = env.operator!;
    await env.createIdentity(ns, 'resumed', {
      secretName: 'resumed-tls',
      authorityRef: { name: authority },
      dnsNames: [`resumed.${pebble.dns.zone}`],
    });
    await waitFor(
      'operator killed after writing the pending status',
      async () => op.proc.child.signalCode === 'SIGKILL',
      30_000,
      50,
    );
    const saved = (await env.identity(ns, 'resumed')).status?.pendingRequest as { id: string; state: string };
    const state = JSON.parse(saved.state) as { order: string; dns: { value: string; zone: string }[] };
    expect(state.order).toMatch(/\/my-order\//);
    expect(state.dns).toHaveLength(1);
    expect(await txtValues(pebble.dns.nameserver, record)).toEqual([state.dns[0]!.value]);
    await env.start(opEnv);
    const mi = await env.ready(ns, 'resumed', 1, 60_000);
    expect(mi.status?.pendingRequest).toBeUndefined();
    expect(await txtValues(pebble.dns.nameserver, record)).toEqual([]);
    // the certificate is the one of the saved order: no second order was placed
    const s = await env.core.readNamespacedSecret({ name: 'acme-account', namespace: env.opNamespace });
    const c = new AcmeClient({
      directoryURL: pebble.directoryURL,
      ca: pebble.caBundle,
      accountKey: parsePrivateKey(decode(s, 'tls.key')),
      eab: { keyID: pebble.eab.keyID, hmacKey: Buffer.from(pebble.eab.hmacKeyB64u, 'base64url') },
    });
    const order = (await c.get<{ status: string; certificate: string }>(state.order, 'order')).body;
    expect(order.status).toBe('valid');
    const fromOrder = parseCertificate(splitPem(await c.certificate(order.certificate))[0]!);
    expect(fromOrder.serialNumber).toBe(
      parseCertificate(decode(await env.secret(ns, 'resumed-tls'), 'tls.crt')).serialNumber,
    );
  }, 120_000);
});

describe('HTTP-01', () => {
  it("is validated for real against the operator's listener; the identity shows Issuing with the order state meanwhile", async () => {
    const seen = new Set<string>();
    await env.createIdentity(ns, 'web', {
      secretName: 'web-tls',
      authorityRef: { name: authority },
      subject: { commonName: 'web.example.com' },
      dnsNames: ['web.example.com', 'www.example.com'],
      duration: '24h',
    });
    await waitFor(
      'web Ready',
      async () => {
        const mi = await env.identity(ns, 'web');
        const issuing = mi.status?.conditions?.find((c) => c.type === 'Issuing');
        if (issuing?.status === 'True') seen.add(issuing.message);
        return mi.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      60_000,
      50,
    );
    expect([...seen].join('\n')).toMatch(
      /ACME order https:\/\/127\.0\.0\.1:\d+\/my-order\/\S+ is (pending|processing)/,
    );
    const secret = await env.secret(ns, 'web-tls');
    verifySecret(secret);
    const leaf = parseCertificate(splitPem(decode(secret, 'tls.crt'))[0]!);
    expect(leaf.dnsNames.sort()).toEqual(['web.example.com', 'www.example.com']);
    expect(leaf.issuerDN).toMatch(/Pebble Intermediate CA/);
    expect(Math.round((leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 3_600_000)).toBe(24);
    expect(splitPem(decode(secret, 'tls.crt'))).toHaveLength(2);
  }, 90_000);

  it('validates IP address identifiers (RFC 8738) of both families', async () => {
    await env.createIdentity(ns, 'by-ip', {
      secretName: 'by-ip-tls',
      authorityRef: { name: authority },
      ipAddresses: ['127.0.0.1', '::1'],
    });
    await env.ready(ns, 'by-ip', 1, 60_000);
    expect(parseCertificate(decode(await env.secret(ns, 'by-ip-tls'), 'tls.crt')).ipAddresses).toEqual([
      '127.0.0.1',
      '::1',
    ]);
  }, 90_000);

  it("a failed validation is Denied with Pebble's own error; the exact-name solver beats the zone solver", async () => {
    // noaddr.dns01.test: the dnsNames solver (HTTP-01) wins over the dns01.test zone solver, and the name has no address
    await env.createIdentity(ns, 'noaddr', {
      secretName: 'noaddr-tls',
      authorityRef: { name: authority },
      dnsNames: [`noaddr.${pebble.dns.zone}`],
    });
    const mi = await env.condition(ns, 'noaddr', 'Issuing', 'Denied', 60_000);
    expect(mi.status!.conditions!.find((c) => c.type === 'Issuing')!.message).toMatch(
      /^ChallengeFailed: acme: ACME server https:\/\/127\.0\.0\.1:\d+\/dir: http-01 for noaddr\.dns01\.test failed: \w+: /,
    );
  }, 90_000);
});

describe('HTTP-01 through an Ingress', () => {
  it('routes each challenge with a temporary Ingress to a Service whose EndpointSlice names this replica, and removes the Ingress after', async () => {
    const routed = env.uniqueName('pebble-ingress');
    await env.createBinding(routed, {
      acme: {
        directoryURL: pebble.directoryURL,
        caBundle: pebble.caBundle,
        accountKeySecretRef: { name: 'acme-account-ingress' },
        rootCertificates: rootPem,
        externalAccountBinding: { keyID: pebble.eab.keyID, keySecretRef: { name: 'acme-eab', key: 'hmac' } },
        solvers: [{ http01: { ingress: { ingressClassName: 'nginx' } } }],
      },
      grants: [GRANT_EXAMPLE_COM],
    });
    await env.bindingReady(routed);
    const net = env.kc.makeApiClient(k8s.NetworkingV1Api);
    const { seen, stop } = await watchAdded<k8s.V1Ingress>(
      `/apis/networking.k8s.io/v1/namespaces/${env.opNamespace}/ingresses`,
      'machineidentity.io/acme-http01=true',
    );
    await env.createIdentity(ns, 'routed', {
      secretName: 'routed-tls',
      authorityRef: { name: routed },
      dnsNames: ['routed.example.com'],
    });
    let issuing = '';
    await waitFor(
      'routed Ready',
      async () => {
        const mi = await env.identity(ns, 'routed');
        issuing = mi.status?.conditions?.find((c) => c.type === 'Issuing')?.message ?? issuing;
        return mi.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      60_000,
      25,
    ).catch((e: Error) => {
      throw new Error(`${e.message} (last Issuing: ${issuing})`);
    });
    stop();
    expect(seen.size).toBe(1);
    const ing = [...seen.values()][0]!;
    expect(ing.spec?.ingressClassName).toBe('nginx');
    expect(ing.spec?.rules?.[0]?.host).toBe('routed.example.com');
    const path = ing.spec?.rules?.[0]?.http?.paths[0];
    expect(path?.path).toMatch(/^\/\.well-known\/acme-challenge\/[A-Za-z0-9_-]+$/);
    expect(path?.pathType).toBe('Exact');
    expect(path?.backend.service).toEqual({ name: 'mio-acme-http01', port: { number: 80 } });
    await waitFor(
      'challenge Ingress deleted',
      async () =>
        (
          await net.listNamespacedIngress({
            namespace: env.opNamespace,
            labelSelector: 'machineidentity.io/acme-http01=true',
          })
        ).items.length === 0,
      10_000,
      100,
    );
    const svc = await env.core.readNamespacedService({ name: 'mio-acme-http01', namespace: env.opNamespace });
    expect(svc.spec?.selector).toBeUndefined();
    const slice = await env.kc
      .makeApiClient(k8s.DiscoveryV1Api)
      .readNamespacedEndpointSlice({ name: 'mio-acme-http01', namespace: env.opNamespace });
    expect(slice.metadata?.labels?.['kubernetes.io/service-name']).toBe('mio-acme-http01');
    expect(slice.endpoints?.map((e) => e.addresses)).toEqual([['10.244.0.10']]);
    verifySecret(await env.secret(ns, 'routed-tls'));
  }, 90_000);
});

describe('HTTP-01 through a Gateway API HTTPRoute', () => {
  it('attaches a temporary HTTPRoute to the named Gateway listener, routed to the same Service, and removes it after', async () => {
    // the HTTPRoute CRD of Gateway API v1.6.3, from its Go module (hack/ca-servers.sh caches it)
    const crd = yaml.load(
      readFileSync(join(caServerBins(), 'httproutes-v1.6.3.yaml'), 'utf8'),
    ) as k8s.V1CustomResourceDefinition;
    const ext = env.kc.makeApiClient(k8s.ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({ body: crd }).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
    await waitFor(
      'HTTPRoute CRD established',
      async () =>
        (await ext.readCustomResourceDefinition({ name: crd.metadata!.name! })).status?.conditions?.some(
          (c) => c.type === 'Established' && c.status === 'True',
        ),
      30_000,
      100,
    );
    const routed = env.uniqueName('pebble-gateway');
    await env.createBinding(routed, {
      acme: {
        directoryURL: pebble.directoryURL,
        caBundle: pebble.caBundle,
        accountKeySecretRef: { name: 'acme-account-gateway' },
        rootCertificates: rootPem,
        externalAccountBinding: { keyID: pebble.eab.keyID, keySecretRef: { name: 'acme-eab', key: 'hmac' } },
        solvers: [
          {
            http01: {
              gatewayHTTPRoute: { parentRefs: [{ name: 'public', namespace: 'gateways', sectionName: 'http' }] },
            },
          },
        ],
      },
      grants: [GRANT_EXAMPLE_COM],
    });
    await env.bindingReady(routed);
    const HR = {
      group: 'gateway.networking.k8s.io',
      version: 'v1',
      plural: 'httproutes',
      namespace: env.opNamespace,
    } as const;
    const list = async (): Promise<{ metadata: { name: string }; spec: Record<string, unknown> }[]> =>
      (
        (await env.co.listNamespacedCustomObject({ ...HR, labelSelector: 'machineidentity.io/acme-http01=true' })) as {
          items: { metadata: { name: string }; spec: Record<string, unknown> }[];
        }
      ).items;
    const { seen, stop } = await watchAdded<k8s.KubernetesObject & { spec: unknown }>(
      `/apis/gateway.networking.k8s.io/v1/namespaces/${env.opNamespace}/httproutes`,
      'machineidentity.io/acme-http01=true',
    );
    await env.createIdentity(ns, 'via-gateway', {
      secretName: 'via-gateway-tls',
      authorityRef: { name: routed },
      dnsNames: ['gw.example.com'],
    });
    await env.ready(ns, 'via-gateway', 1, 60_000);
    stop();
    expect(seen.size).toBe(1);
    const spec = [...seen.values()][0]!.spec as {
      parentRefs: unknown[];
      hostnames: string[];
      rules: { matches: { path: { type: string; value: string } }[]; backendRefs: { name: string; port: number }[] }[];
    };
    expect(spec.parentRefs).toEqual([
      {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: 'public',
        namespace: 'gateways',
        sectionName: 'http',
      },
    ]);
    expect(spec.hostnames).toEqual(['gw.example.com']);
    expect(spec.rules[0]!.matches[0]!.path).toMatchObject({
      type: 'Exact',
      value: expect.stringMatching(/^\/\.well-known\/acme-challenge\/[A-Za-z0-9_-]+$/),
    });
    expect(spec.rules[0]!.backendRefs[0]).toMatchObject({ name: 'mio-acme-http01', port: 80 });
    await waitFor('challenge HTTPRoute deleted', async () => (await list()).length === 0, 10_000, 100);
    verifySecret(await env.secret(ns, 'via-gateway-tls'));
  }, 90_000);
});

describe('DNS-01', () => {
  it('writes the TXT records into BIND 9 over RFC 2136 with TSIG (a wildcard and its base name share one), and removes them after', async () => {
    const names = [`app.${pebble.dns.zone}`, `*.app.${pebble.dns.zone}`];
    await env.createIdentity(ns, 'wild', {
      secretName: 'wild-tls',
      authorityRef: { name: authority },
      dnsNames: names,
    });
    await env.ready(ns, 'wild', 1, 60_000);
    // BIND's own account of the updates it applied, signed with our TSIG key: two values added, the same two deleted
    const rr = `_acme-challenge.app.${pebble.dns.zone}`;
    const updates = pebble.dns
      .log()
      .split('\n')
      .filter(
        (l) => l.includes(`/key ${pebble.dns.tsigKeyName}: updating zone '${pebble.dns.zone}/IN'`) && l.includes(rr),
      );
    const added = updates
      .filter((l) => l.includes(`adding an RR at '${rr}' TXT`))
      .map((l) => /TXT "([^"]+)"/.exec(l)?.[1]);
    expect(new Set(added).size).toBe(2);
    expect(updates.filter((l) => l.includes(`deleting an RR at ${rr} TXT`))).toHaveLength(2);
    expect(await txtValues(pebble.dns.nameserver, rr)).toEqual([]);
    const secret = await env.secret(ns, 'wild-tls');
    verifySecret(secret);
    expect(parseCertificate(decode(secret, 'tls.crt')).dnsNames.sort()).toEqual([...names].sort());
  }, 90_000);
});

describe('refusals, revocation and outages', () => {
  it("a refused identifier is Denied with the backend and Pebble's own text in status, Event and metrics", async () => {
    await env.createIdentity(ns, 'blocked', {
      secretName: 'blocked-tls',
      authorityRef: { name: authority },
      dnsNames: ['api.blocked.example'],
    });
    const mi = await env.condition(ns, 'blocked', 'Issuing', 'Denied', 30_000);
    const msg = mi.status!.conditions!.find((c) => c.type === 'Issuing')!.message;
    expect(msg).toMatch(/^CARefused: acme: ACME server https:\/\/\S+ refused: newOrder: rejectedIdentifier: .*blocked/);
    const ev = await env.core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: 'involvedObject.name=blocked,reason=Denied',
    });
    expect(ev.items[0]?.message).toContain('rejectedIdentifier');
    expect(
      await env.operator!.metric('machine_identity_issuance_total', { authority, result: 'denied' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await env.operator!.metric('machine_identity_ca_errors_total', {
        authority,
        backend: 'acme',
        reason: 'CARefused',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await env.operator!.metric('machine_identity_ca_errors_total', {
        authority,
        backend: 'acme',
        reason: 'ChallengeFailed',
      }),
    ).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('what ACME cannot certify is Denied before anything is sent (a URI SAN)', async () => {
    await env.createIdentity(ns, 'spiffe', {
      secretName: 'spiffe-tls',
      authorityRef: { name: authority },
      dnsNames: ['s.example.com'],
      uris: ['spiffe://example.org/x'],
    });
    const mi = await env.condition(ns, 'spiffe', 'Issuing', 'Denied', 30_000);
    expect(mi.status!.conditions!.find((c) => c.type === 'Issuing')!.message).toMatch(
      /^UnsupportedByCA: acme: ACME certificates carry DNS names and IP addresses only/,
    );
  });

  it('revokes at Pebble when the identity is deleted (deletionPolicy Delete)', async () => {
    await env.createIdentity(ns, 'short', {
      secretName: 'short-tls',
      authorityRef: { name: authority },
      dnsNames: ['short.example.com'],
    });
    const mi = await env.ready(ns, 'short', 1, 60_000);
    expect(mi.metadata.finalizers).toContain('machineidentity.io/revoke-on-delete');
    const leaf = parseCertificate(splitPem(decode(await env.secret(ns, 'short-tls'), 'tls.crt'))[0]!);
    expect(await pebble.certStatus(leaf.serialNumber)).toBe('Valid');
    await env.co.deleteNamespacedCustomObject({ ...MI, namespace: ns, name: 'short' });
    await waitFor('identity gone', async () => !(await env.identity(ns, 'short').catch(() => undefined)), 30_000, 200);
    expect(await pebble.certStatus(leaf.serialNumber)).toBe('Revoked');
    const ev = await env.core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: 'involvedObject.name=short,reason=Revoked',
    });
    expect(ev.items[0]?.message).toBe('revoked the certificate at acme before deletion');
  }, 90_000);

  it('an outage (Pebble stopped) is reported, backed off, and recovered from without help', async () => {
    await pebble.stop();
    await env.createIdentity(ns, 'during-outage', {
      secretName: 'during-outage-tls',
      authorityRef: { name: authority },
      dnsNames: ['outage.example.com'],
    });
    const failing = await env.condition(ns, 'during-outage', 'Issuing', 'Failed', 30_000);
    expect(failing.status!.conditions!.find((c) => c.type === 'Issuing')!.message).toMatch(
      /^CAUnreachable: acme: ACME server https:\/\/127\.0\.0\.1:\d+\/dir cannot be reached: ECONNREFUSED; retrying in \d+s$/,
    );
    expect(
      await env.operator!.metric('machine_identity_issuance_total', { authority, result: 'failed' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await env.operator!.metric('machine_identity_ca_errors_total', {
        authority,
        backend: 'acme',
        reason: 'CAUnreachable',
      }),
    ).toBeGreaterThanOrEqual(1);
    // Pebble comes back empty (it keeps nothing on disk): the operator registers again and orders anew
    await pebble.start();
    await env.ready(ns, 'during-outage', 1, 90_000);
    const secret = await env.secret(ns, 'during-outage-tls');
    expect(certificateMatchesKey(decode(secret, 'tls.crt'), parsePrivateKey(decode(secret, 'tls.key')))).toBe(true);
  }, 150_000);
});
