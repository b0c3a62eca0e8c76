// Which certificates.k8s.io version the signer uses, on every supported Kubernetes version (this file is
// in the compatibility runs of scripts/test.js): the one the server serves (v1 on 1.37, v1beta1 on 1.36),
// named by machine_identity_signer_api_info. On a server that serves no PodCertificateRequest API
// (1.34 and older, e.g. the oldest supported 1.32; or 1.35/1.36 without the gate) it says so instead of
// sitting silent: version="none" and a Warning Event PodCertificatesNotServed on a binding that asks for
// pod certificates. CertificateSigningRequests are signed either way.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv } from '../harness/identities.ts';
import { waitFor } from '../harness/processes.ts';
import { serviceAccountClient } from '../harness/requesters.ts';
import { buildCsr } from '../../src/pki/csr.ts';
import { certificatesApi } from '../../src/controllers/signer/certificates-api.ts';

const env = new IssuanceEnv();
const served = await certificatesApi(env.kc).served();
const NOT_SERVED = served.podcertificaterequests === undefined;
let binding = '';
let ns = '';

describe(`signer on a server that serves ${NOT_SERVED ? 'no' : `the ${served.podcertificaterequests}`} PodCertificateRequest API`, () => {
  beforeAll(async () => {
    ns = await testNamespace('sig-ns');
    await env.start();
    binding = env.uniqueName('sig-ns');
    await env.createBinding(binding, {
      ca: { secretRef: { name: binding }, generate: { commonName: 'Not Served CA' } },
      signer: { podCertificates: true, certificateSigningRequests: true, trustDomain: 'example.org' },
    });
    await env.bindingReady(binding);
  }, 120_000);
  afterAll(() => env.stop());

  it('names the version it uses ("none" when not served) in machine_identity_signer_api_info', async () => {
    expect(
      await env.operator!.metric('machine_identity_signer_api_info', {
        resource: 'podcertificaterequests',
        version: served.podcertificaterequests ?? 'none',
      }),
    ).toBe(1);
    const ctb = served.clustertrustbundles ?? 'none';
    expect(
      await env.operator!.metric('machine_identity_signer_api_info', { resource: 'clustertrustbundles', version: ctb }),
    ).toBe(1);
  });

  it(`${NOT_SERVED ? 'puts' : 'puts no'} Warning Event PodCertificatesNotServed on the binding`, async () => {
    const notServed = async (): Promise<k8s.CoreV1Event | undefined> =>
      (
        await env.core.listNamespacedEvent({
          namespace: 'default',
          fieldSelector: `involvedObject.name=${binding},reason=PodCertificatesNotServed`,
        })
      ).items[0];
    if (!NOT_SERVED) {
      // the binding is Ready and its signer running: an Event would be there by now
      expect(await notServed()).toBeUndefined();
      return;
    }
    const ev = await waitFor('PodCertificatesNotServed Event', notServed, 20_000, 200);
    expect(ev.type).toBe('Warning');
    expect(ev.message).toMatch(/neither certificates\.k8s\.io\/v1 .* nor v1beta1/);
  });

  it('still signs CertificateSigningRequests', async () => {
    const requester = await serviceAccountClient(env.kc, ns, 'csr-requester');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const dns = `web.${ns}.svc`;
    const request = await buildCsr(privateKey, {
      subject: { commonName: dns },
      dnsNames: [dns],
      ipAddresses: [],
      uris: [],
      emailAddresses: [],
      usages: ['serverAuth'],
      isCA: false,
    });
    const name = env.uniqueName('csr');
    await requester.makeApiClient(k8s.CertificatesV1Api).createCertificateSigningRequest({
      body: {
        metadata: { name },
        spec: {
          signerName: `machineidentity.io/${binding}`,
          request: Buffer.from(request).toString('base64'),
          usages: ['digital signature', 'server auth'],
          expirationSeconds: 3600,
        },
      },
    });
    const admin = env.kc.makeApiClient(k8s.CertificatesV1Api);
    const cert = await waitFor(
      'CSR signed',
      async () => (await admin.readCertificateSigningRequest({ name })).status?.certificate,
      20_000,
      200,
    );
    expect(cert.length).toBeGreaterThan(0);
  });
});
