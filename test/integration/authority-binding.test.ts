// The authority-binding controller against a real API server, with the real operator process:
// generated CA Secrets, missing / invalid CA Secrets, selfSigned, unsupported backends and trust bundles.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes, X509Certificate } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { startOperator, type OperatorProcess } from '../harness/operator.ts';
import { waitFor } from '../harness/processes.ts';
import { generateCa } from '../../src/issuers/ca-material.ts';

const GVR = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'certificateauthoritybindings' };
interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Binding {
  metadata: { name: string; uid: string };
  status?: { conditions?: Cond[]; caFingerprintSHA256?: string; caNotAfter?: string; backend?: string };
}

describe('CertificateAuthorityBinding controller', () => {
  const kc = sharedCluster().kubeConfig();
  const co = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const sfx = randomBytes(3).toString('hex');
  const tbLabel = `mio-tb-test-${sfx}`;
  const bindings: string[] = [];
  const namespaces: string[] = [];
  let opNs = '';
  let op: OperatorProcess | undefined;

  const createBinding = async (name: string, spec: Record<string, unknown>): Promise<void> => {
    bindings.push(name);
    await co.createClusterCustomObject({
      ...GVR,
      body: {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'CertificateAuthorityBinding',
        metadata: { name },
        spec,
      },
    });
  };
  const getBinding = async (name: string): Promise<Binding> =>
    (await co.getClusterCustomObject({ ...GVR, name })) as Binding;
  const readyOf = async (name: string): Promise<Cond | undefined> =>
    (await getBinding(name)).status?.conditions?.find((c) => c.type === 'Ready');
  const waitReady = (name: string, status: string, reason: string): Promise<Cond> =>
    waitFor(
      `${name} Ready=${status} ${reason}`,
      async () => {
        const c = await readyOf(name);
        return c?.status === status && c.reason === reason ? c : undefined;
      },
      30_000,
      200,
    );
  const readCm = async (ns: string, name: string): Promise<k8s.V1ConfigMap | undefined> => {
    try {
      return await core.readNamespacedConfigMap({ namespace: ns, name });
    } catch {
      return undefined;
    }
  };
  const tlsSecret = async (name: string, files: Record<string, string>): Promise<void> => {
    await core.createNamespacedSecret({
      namespace: opNs,
      body: {
        metadata: { name },
        type: 'kubernetes.io/tls',
        data: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      },
    });
  };
  const newNamespace = async (prefix: string, labels: Record<string, string> = {}): Promise<string> => {
    const ns = await testNamespace(prefix, labels);
    namespaces.push(ns);
    return ns;
  };

  beforeAll(async () => {
    opNs = await newNamespace('mio-ab');
    op = await startOperator(sharedCluster().kubeconfigPath, { MIO_NAMESPACE: opNs, MIO_LEADER_ELECT: 'false' });
  });
  afterAll(async () => {
    for (const name of bindings) await co.deleteClusterCustomObject({ ...GVR, name }).catch(() => undefined);
    await op?.stop();
    for (const ns of namespaces) await core.deleteNamespace({ name: ns }).catch(() => undefined);
  });

  describe('ca.generate and trust bundles', () => {
    const name = `gen-${sfx}`;
    const secretName = `gen-ca-${sfx}`;
    const cmName = `tb-${sfx}`;
    let served = '',
      foreign = '',
      unserved = '';

    beforeAll(async () => {
      served = await newNamespace('mio-tb-a', { [tbLabel]: 'yes' });
      foreign = await newNamespace('mio-tb-b', { [tbLabel]: 'yes' });
      unserved = await newNamespace('mio-tb-c');
      await core.createNamespacedConfigMap({
        namespace: foreign,
        body: { metadata: { name: cmName }, data: { 'ca.crt': 'not ours' } },
      });
      await createBinding(name, {
        namespaceSelector: { matchLabels: { [tbLabel]: 'yes' } },
        maxDuration: '720h',
        ca: {
          secretRef: { name: secretName },
          generate: {
            commonName: `Generated CA ${sfx}`,
            duration: '8760h',
            privateKey: { algorithm: 'ECDSA', size: 384 },
          },
        },
        trustBundle: { configMapName: cmName },
        caRotation: { propagationDelay: '1s', overlap: '3s' },
      });
    });

    it('creates the CA Secret and becomes Ready with its fingerprint and notAfter', async () => {
      const ready = await waitReady(name, 'True', 'Ready');
      expect(ready.message).toContain(`Generated CA ${sfx}`);
      const secret = await core.readNamespacedSecret({ namespace: opNs, name: secretName });
      expect(secret.type).toBe('kubernetes.io/tls');
      expect(secret.metadata?.labels?.['machineidentity.io/generated-ca']).toBe(name);
      const cert = new X509Certificate(Buffer.from(secret.data!['tls.crt']!, 'base64'));
      expect(cert.ca).toBe(true);
      const b = await getBinding(name);
      expect(b.status?.backend).toBe('ca');
      expect(b.status?.caFingerprintSHA256).toBe(cert.fingerprint256);
      expect(new Date(b.status!.caNotAfter!).getTime()).toBe(new Date(cert.validTo).getTime());
    });

    it('records Events for the generated CA and the Ready transition', async () => {
      const events = await waitFor(
        'events',
        async () => {
          const list = await core.listNamespacedEvent({
            namespace: 'default',
            fieldSelector: `involvedObject.name=${name}`,
          });
          const reasons = list.items.map((e) => e.reason);
          return reasons.includes('CAGenerated') && reasons.includes('Ready') ? list.items : undefined;
        },
        20_000,
        250,
      );
      expect(events.every((e) => e.involvedObject.kind === 'CertificateAuthorityBinding')).toBe(true);
    });

    it('publishes the bundle only in served namespaces and leaves a foreign ConfigMap alone', async () => {
      const secret = await core.readNamespacedSecret({ namespace: opNs, name: secretName });
      const caPem = Buffer.from(secret.data!['tls.crt']!, 'base64').toString();
      const cm = await waitFor('trust bundle in served namespace', () => readCm(served, cmName), 20_000, 250);
      expect(cm.data?.['ca.crt']?.trim()).toBe(caPem.trim());
      expect(cm.metadata?.labels?.['machineidentity.io/trust-bundle']).toBe(name);
      expect(await readCm(unserved, cmName)).toBeUndefined();
      const other = await readCm(foreign, cmName);
      expect(other?.data).toEqual({ 'ca.crt': 'not ours' });
      expect(other?.metadata?.labels?.['machineidentity.io/trust-bundle']).toBeUndefined();
      await waitFor(
        'TrustBundleConflict event',
        async () => {
          const list = await core.listNamespacedEvent({
            namespace: 'default',
            fieldSelector: `involvedObject.name=${name},reason=TrustBundleConflict`,
          });
          return list.items.length > 0;
        },
        20_000,
        250,
      );
    });

    it('follows namespaces: new served ones get it, ones no longer served lose it', async () => {
      const late = await newNamespace('mio-tb-d', { [tbLabel]: 'yes' });
      await waitFor('trust bundle in a new namespace', () => readCm(late, cmName), 20_000, 250);
      await core.patchNamespace(
        { name: served, body: { metadata: { labels: { [tbLabel]: null } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await waitFor('trust bundle removed', async () => (await readCm(served, cmName)) === undefined, 20_000, 250);
    });

    // CA continuity (issue #13): a CA swapped into the Secret is not trusted until the security team approves it
    it('refuses a CA swapped into the Secret until it is approved; then publishes old and new, and the old one leaves after the overlap', async () => {
      const late = namespaces[namespaces.length - 1]!;
      const oldFp = (await getBinding(name)).status!.caFingerprintSHA256!;
      const oldPem = Buffer.from(
        (await core.readNamespacedSecret({ namespace: opNs, name: secretName })).data!['tls.crt']!,
        'base64',
      ).toString();
      const next = await generateCa({
        commonName: `Replacement CA ${sfx}`,
        durationMs: 100 * 24 * 3600_000,
        key: { algorithm: 'ECDSA' },
      });
      await core.replaceNamespacedSecret({
        namespace: opNs,
        name: secretName,
        body: {
          metadata: { name: secretName },
          type: 'kubernetes.io/tls',
          data: {
            'tls.crt': Buffer.from(next.certPem).toString('base64'),
            'tls.key': Buffer.from(next.keyPem).toString('base64'),
          },
        },
      });
      const fp = new X509Certificate(next.certPem).fingerprint256;
      const refused = await waitReady(name, 'False', 'CAChangedUnexpectedly');
      expect(refused.message).toContain(`machineidentity.io/accept-ca-fingerprint=${fp}`);
      expect((await getBinding(name)).status?.caFingerprintSHA256).toBe(oldFp);
      expect((await readCm(late, cmName))?.data?.['ca.crt']?.trim()).toBe(oldPem.trim());

      await co.patchClusterCustomObject(
        { ...GVR, name, body: { metadata: { annotations: { 'machineidentity.io/accept-ca-fingerprint': fp } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await waitFor(
        'new fingerprint in status',
        async () => (await getBinding(name)).status?.caFingerprintSHA256 === fp,
        20_000,
        100,
      );
      await waitFor(
        'old and new CA in the bundle',
        async () => {
          const b = (await readCm(late, cmName))?.data?.['ca.crt'] ?? '';
          return b.includes(next.certPem.trim()) && b.includes(oldPem.trim());
        },
        20_000,
        100,
      );
      await waitFor(
        'old CA gone from the bundle after the overlap',
        async () => (await readCm(late, cmName))?.data?.['ca.crt']?.trim() === next.certPem.trim(),
        20_000,
        250,
      );
      expect((await getBinding(name)).status).not.toHaveProperty('previousCAs');
      expect((await readCm(foreign, cmName))?.data).toEqual({ 'ca.crt': 'not ours' });
      const reasons = (
        await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${name}` })
      ).items.map((e) => e.reason);
      if (!['CAChangedUnexpectedly', 'CAChanged', 'PreviousCARetired'].every((r) => reasons.includes(r)))
        throw new Error(
          `Events ${reasons.join(', ')}: one of CAChangedUnexpectedly, CAChanged, PreviousCARetired is missing\n${op?.trouble() ?? ''}`,
        );
    });

    it('keeps a distrusted CA in the bundle until a replacement is published, then drops it', async () => {
      const late = namespaces[namespaces.length - 1]!;
      const fp = (await getBinding(name)).status!.caFingerprintSHA256!;
      const pem = (await readCm(late, cmName))!.data!['ca.crt']!;
      await co.patchClusterCustomObject(
        { ...GVR, name, body: { spec: { distrust: [fp] } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await waitReady(name, 'False', 'CADistrusted');
      expect((await readCm(late, cmName))?.data?.['ca.crt']).toBe(pem);
      // the replacement: a lost Secret of a distrusted CA is regenerated (the distrust is the request)
      await core.deleteNamespacedSecret({ namespace: opNs, name: secretName });
      await waitReady(name, 'True', 'Ready');
      const b = await getBinding(name);
      expect(b.status?.caFingerprintSHA256).not.toBe(fp);
      const fresh = Buffer.from(
        (await core.readNamespacedSecret({ namespace: opNs, name: secretName })).data!['tls.crt']!,
        'base64',
      ).toString();
      await waitFor(
        'only the replacement in the bundle',
        async () => (await readCm(late, cmName))?.data?.['ca.crt']?.trim() === fresh.trim(),
        20_000,
        250,
      );
    });
  });

  it('a lost CA Secret does not make a new root: CASecretMissing until the security team asks, then a new CA next to the old one', async () => {
    const name = `lost-${sfx}`;
    const secretName = `lost-ca-${sfx}`;
    await createBinding(name, {
      ca: { secretRef: { name: secretName }, generate: { commonName: `Lost CA ${sfx}` } },
      caRotation: { propagationDelay: '1s', overlap: '1h' },
    });
    await waitReady(name, 'True', 'Ready');
    const fp = (await getBinding(name)).status!.caFingerprintSHA256!;
    await core.deleteNamespacedSecret({ namespace: opNs, name: secretName });
    const c = await waitReady(name, 'False', 'CASecretMissing');
    expect(c.message).toContain(fp);
    expect(c.message).toContain('machineidentity.io/regenerate-ca-requested-at');
    await new Promise((r) => setTimeout(r, 1500));
    await expect(core.readNamespacedSecret({ namespace: opNs, name: secretName })).rejects.toThrow();
    expect((await getBinding(name)).status?.caFingerprintSHA256).toBe(fp);
    const at = new Date().toISOString();
    await co.patchClusterCustomObject(
      { ...GVR, name, body: { metadata: { annotations: { 'machineidentity.io/regenerate-ca-requested-at': at } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitReady(name, 'True', 'Ready');
    const b = await waitFor(
      'new CA recorded',
      async () => {
        const x = await getBinding(name);
        return x.status?.caFingerprintSHA256 !== fp ? x : undefined;
      },
      20_000,
      200,
    );
    const st = b.status as Record<string, unknown>;
    expect(st.caRegenerationHandled).toBe(at);
    expect((st.previousCAs as { fingerprintSHA256: string }[]).map((p) => p.fingerprintSHA256)).toEqual([fp]);
    // a new request while the Secret exists rotates the generated CA in place; both previous CAs stay in the overlap
    const fp2 = b.status!.caFingerprintSHA256!;
    const at2 = new Date(Date.now() + 1000).toISOString();
    await co.patchClusterCustomObject(
      { ...GVR, name, body: { metadata: { annotations: { 'machineidentity.io/regenerate-ca-requested-at': at2 } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const b3 = await waitFor(
      'rotated CA recorded',
      async () => {
        const x = await getBinding(name);
        return x.status?.caFingerprintSHA256 !== fp2 ? x : undefined;
      },
      20_000,
      200,
    );
    expect((b3.status as Record<string, unknown>).caRegenerationHandled).toBe(at2);
    expect(
      ((b3.status as Record<string, unknown>).previousCAs as { fingerprintSHA256: string }[]).map(
        (p) => p.fingerprintSHA256,
      ),
    ).toEqual([fp2, fp]);
    const cert = new X509Certificate(
      Buffer.from((await core.readNamespacedSecret({ namespace: opNs, name: secretName })).data!['tls.crt']!, 'base64'),
    );
    expect(cert.fingerprint256).toBe(b3.status?.caFingerprintSHA256);
  });

  it('a regeneration request never overwrites a CA Secret the operator did not generate', async () => {
    const name = `byo-${sfx}`;
    const ca = await generateCa({ commonName: 'BYO CA', durationMs: 24 * 3600_000, key: { algorithm: 'ECDSA' } });
    await tlsSecret(`byo-ca-${sfx}`, { 'tls.crt': ca.certPem, 'tls.key': ca.keyPem });
    await createBinding(name, { ca: { secretRef: { name: `byo-ca-${sfx}` }, generate: { commonName: 'unused' } } });
    await waitReady(name, 'True', 'Ready');
    await co.patchClusterCustomObject(
      { ...GVR, name, body: { metadata: { annotations: { 'machineidentity.io/regenerate-ca-requested-at': 'now' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitFor(
      'request marked handled',
      async () =>
        ((await getBinding(name)).status as Record<string, unknown> | undefined)?.caRegenerationHandled === 'now',
      20_000,
      200,
    );
    const events = await core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: `involvedObject.name=${name},reason=CAGenerationFailed`,
    });
    expect(events.items[0]?.message).toContain('was not generated by the operator');
    const kept = Buffer.from(
      (await core.readNamespacedSecret({ namespace: opNs, name: `byo-ca-${sfx}` })).data!['tls.crt']!,
      'base64',
    ).toString();
    expect(kept).toBe(ca.certPem);
  });

  it('a missing CA Secret is Ready=False CASecretNotFound until it is created', async () => {
    const name = `missing-${sfx}`;
    await createBinding(name, { ca: { secretRef: { name: `missing-ca-${sfx}` } } });
    const c = await waitReady(name, 'False', 'CASecretNotFound');
    expect(c.message).toContain(`${opNs}/missing-ca-${sfx}`);
    const ca = await generateCa({ commonName: 'Late CA', durationMs: 24 * 3600_000, key: { algorithm: 'RSA' } });
    await tlsSecret(`missing-ca-${sfx}`, { 'tls.crt': ca.certPem, 'tls.key': ca.keyPem });
    await waitReady(name, 'True', 'Ready');
    expect((await getBinding(name)).status?.caFingerprintSHA256).toBe(new X509Certificate(ca.certPem).fingerprint256);
  });

  it('an invalid CA Secret is reported', async () => {
    const name = `invalid-${sfx}`;
    const a = await generateCa({ commonName: 'A', durationMs: 24 * 3600_000, key: { algorithm: 'ECDSA' } });
    const b = await generateCa({ commonName: 'B', durationMs: 24 * 3600_000, key: { algorithm: 'ECDSA' } });
    await tlsSecret(`invalid-ca-${sfx}`, { 'tls.crt': a.certPem, 'tls.key': b.keyPem });
    await createBinding(name, { ca: { secretRef: { name: `invalid-ca-${sfx}` } } });
    const c = await waitReady(name, 'False', 'InvalidCA');
    expect(c.message).toMatch(/does not belong/);
    expect(c.message).not.toContain('PRIVATE KEY');
  });

  it('a selfSigned binding is Ready', async () => {
    const name = `self-${sfx}`;
    await createBinding(name, { selfSigned: {} });
    await waitReady(name, 'True', 'Ready');
    expect((await getBinding(name)).status?.backend).toBe('selfSigned');
  });

  it('an acme binding whose server is down says CAUnreachable with the address, and its account key Secret exists already', async () => {
    const name = `acme-${sfx}`;
    await createBinding(name, {
      acme: { directoryURL: 'https://127.0.0.1:1/directory', accountKeySecretRef: { name: `acme-account-${sfx}` } },
    });
    const c = await waitReady(name, 'False', 'CAUnreachable');
    expect(c.message).toBe('ACME server https://127.0.0.1:1/directory cannot be reached: ECONNREFUSED');
    expect((await getBinding(name)).status?.backend).toBe('acme');
    const key = await core.readNamespacedSecret({ name: `acme-account-${sfx}`, namespace: opNs });
    expect(key.data?.['tls.key']).toBeDefined();
  });

  it('logged no reconcile errors and no failed Events', () => {
    const bad = op!
      .logLines()
      .filter(
        (l) => (l.controller === 'authority-binding' && Number(l.level) >= 50) || l.msg === 'recording event failed',
      );
    expect(bad).toEqual([]);
  });
});
