// Helpers for issuance tests: a private operator per suite, bindings, identities, and checks with
// the real openssl.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from './cluster.ts';
import { startOperator, type OperatorProcess } from './operator.ts';
import { waitFor } from './processes.ts';

export const MI = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'machineidentities' } as const;
export const CAB = {
  group: 'machineidentity.io',
  version: 'v1alpha1',
  plural: 'certificateauthoritybindings',
} as const;

/**
 * What the tests' security team grants namespaces on their bindings: names under example.com, which
 * no namespace owns (the safe defaults, src/policy/ownership.ts). Tests that need more say so on their own binding.
 */
export const GRANT_EXAMPLE_COM = { dnsNames: ['*.example.com', '*.*.example.com'] };

export interface Identity {
  metadata: k8s.V1ObjectMeta;
  spec: Record<string, unknown>;
  status?: {
    revision?: number;
    conditions?: { type: string; status: string; reason: string; message: string }[];
    [k: string]: unknown;
  };
}

export class IssuanceEnv {
  readonly kc = sharedCluster().kubeConfig();
  readonly co = this.kc.makeApiClient(k8s.CustomObjectsApi);
  readonly core = this.kc.makeApiClient(k8s.CoreV1Api);
  opNamespace = '';
  operator?: OperatorProcess;
  private bindings: string[] = [];

  /** Creates the operator's namespace and starts the real operator against the shared cluster. */
  async start(env: Record<string, string> = {}): Promise<this> {
    this.opNamespace ||= await testNamespace('mio-op');
    this.operator = await startOperator(sharedCluster().kubeconfigPath, {
      MIO_NAMESPACE: this.opNamespace,
      MIO_LEADER_ELECT: 'false',
      ...env,
    });
    return this;
  }

  async restart(env: Record<string, string> = {}): Promise<void> {
    await this.operator?.stop();
    await this.start(env);
  }

  async stop(): Promise<void> {
    await this.operator?.stop();
    for (const b of this.bindings) {
      try {
        await this.co.deleteClusterCustomObject({ ...CAB, name: b });
      } catch {
        /* gone */
      }
    }
  }

  uniqueName(prefix: string): string {
    return `${prefix}-${randomBytes(3).toString('hex')}`;
  }

  async createBinding(name: string, spec: Record<string, unknown>): Promise<void> {
    await this.co.createClusterCustomObject({
      ...CAB,
      body: {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'CertificateAuthorityBinding',
        metadata: { name },
        spec,
      },
    });
    this.bindings.push(name);
  }

  async bindingReady(name: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    let last = '';
    try {
      return await waitFor(
        `binding ${name} Ready`,
        async () => {
          const b = (await this.co.getClusterCustomObject({ ...CAB, name })) as {
            status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
          };
          const ready = b.status?.conditions?.find((c) => c.type === 'Ready');
          last = ready ? `${ready.status} ${ready.reason}: ${ready.message}` : 'no Ready condition';
          return ready?.status === 'True' ? (b.status as Record<string, unknown>) : undefined;
        },
        timeoutMs,
        200,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message} (last Ready: ${last})`);
    }
  }

  async createIdentity(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
    await this.co.createNamespacedCustomObject({
      ...MI,
      namespace,
      body: { apiVersion: 'machineidentity.io/v1alpha1', kind: 'MachineIdentity', metadata: { name }, spec },
    });
  }

  /**
   * A binding, Ready, and `n` identities `id-0` … `id-<n-1>` in `namespace` issued from it (Secret `id-<i>-tls`,
   * DNS name `id-<i>.<namespace>.svc`), all Ready: the set-up of the restart-writes and CA-continuity tests.
   */
  async bindingWithIdentities(
    namespace: string,
    binding: string,
    spec: Record<string, unknown>,
    n: number,
  ): Promise<void> {
    await this.createBinding(binding, spec);
    await this.bindingReady(binding);
    for (let i = 0; i < n; i++)
      await this.createIdentity(namespace, `id-${i}`, {
        secretName: `id-${i}-tls`,
        authorityRef: { name: binding },
        dnsNames: [`id-${i}.${namespace}.svc`],
      });
    for (let i = 0; i < n; i++) await this.ready(namespace, `id-${i}`);
  }

  async identity(namespace: string, name: string): Promise<Identity> {
    return (await this.co.getNamespacedCustomObject({ ...MI, namespace, name })) as Identity;
  }

  /** Waits until Ready=True (and, if given, at least `minRevision`). */
  async ready(namespace: string, name: string, minRevision = 1, timeoutMs = 30_000): Promise<Identity> {
    return waitFor(
      `${namespace}/${name} Ready (revision >= ${minRevision})`,
      async () => {
        const mi = await this.identity(namespace, name);
        const ok =
          mi.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
          (mi.status?.revision ?? 0) >= minRevision;
        return ok ? mi : undefined;
      },
      timeoutMs,
      100,
    );
  }

  async condition(
    namespace: string,
    name: string,
    type: string,
    reason: string,
    timeoutMs = 30_000,
  ): Promise<Identity> {
    return waitFor(
      `${namespace}/${name} ${type} reason ${reason}`,
      async () => {
        const mi = await this.identity(namespace, name);
        return mi.status?.conditions?.some((c) => c.type === type && c.reason === reason) ? mi : undefined;
      },
      timeoutMs,
      100,
    );
  }

  async secret(namespace: string, name: string): Promise<k8s.V1Secret> {
    return this.core.readNamespacedSecret({ name, namespace });
  }
}

export const decode = (s: k8s.V1Secret, key: string): string =>
  Buffer.from(s.data?.[key] ?? '', 'base64').toString('utf8');
export const decodeBytes = (s: k8s.V1Secret, key: string): Buffer => Buffer.from(s.data?.[key] ?? '', 'base64');

/** Runs openssl with files written to a temp dir; returns stdout. Throws with stderr on failure. */
export function openssl(args: (string | { file: string | Buffer })[], input?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mio-openssl-'));
  const argv = args.map((a, i) => {
    if (typeof a === 'string') return a;
    const f = join(dir, `f${i}`);
    writeFileSync(f, a.file);
    return f;
  });
  return execFileSync('openssl', argv, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** The SHA-256 of the SubjectPublicKeyInfo of a certificate or of a private key (through openssl). */
export function publicKeyOf(pem: string, isKey: boolean): string {
  return isKey
    ? openssl(['pkey', '-in', { file: pem }, '-pubout'])
    : openssl(['x509', '-in', { file: pem }, '-noout', '-pubkey']);
}

/** Asserts with openssl that the Secret's tls.key matches tls.crt and the leaf verifies against ca.crt. */
export function verifySecret(s: k8s.V1Secret): void {
  const crt = decode(s, 'tls.crt'),
    key = decode(s, 'tls.key'),
    ca = decode(s, 'ca.crt');
  if (publicKeyOf(crt, false) !== publicKeyOf(key, true))
    throw new Error(`tls.key does not match tls.crt in ${s.metadata?.name}`);
  const out = openssl([
    'verify',
    '-CAfile',
    { file: ca },
    ...(crt.split('-----END CERTIFICATE-----').length > 2 ? ['-untrusted', { file: crt }] : []),
    { file: crt },
  ]);
  if (!out.includes(': OK')) throw new Error(`openssl verify failed: ${out}`);
}
