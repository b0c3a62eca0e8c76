// ACME issuance against a real Pebble (real validation, external account binding, 5% of nonces
// refused): N MachineIdentities from apply to Ready, each one order with one authorization, answered
// over HTTP-01 by the operator's own listener (challenge=http-01) or over DNS-01 by RFC 2136 updates
// to a real BIND 9 (challenge=dns-01). Reports identities/s, p50/p99 latency, API writes per issuance
// and the operator's peak RSS.
// Params: n=200 concurrency=16 workers=16 challenge=http-01|dns-01
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { startOperator } from '../test/harness/operator.ts';
import { startPebble } from '../test/harness/ca-servers.ts';
import { freePort } from '../test/harness/processes.ts';
import { phase } from './issuance.ts';
import type { Bench } from './run.ts';

const CAB = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'certificateauthoritybindings' };

const bench: Bench = {
  description:
    'acme: N identities through a real Pebble (HTTP-01 from the operator, or DNS-01 to BIND 9 over RFC 2136)',
  async run(ctx) {
    const n = Number(ctx.params.n ?? 200),
      conc = Number(ctx.params.concurrency ?? 16);
    const dns01 = ctx.params.challenge === 'dns-01';
    const core = ctx.kc.makeApiClient(k8s.CoreV1Api);
    const opNs = 'mio-bench';
    await core.createNamespace({ body: { metadata: { name: opNs } } });
    const httpPort = await freePort();
    const pebble = await startPebble({ httpPort });
    const op = await startOperator(ctx.kubeconfigPath, {
      MIO_NAMESPACE: opNs,
      MIO_LEADER_ELECT: 'false',
      MIO_LOG_LEVEL: 'warn',
      MIO_WORKERS: ctx.params.workers ?? '16',
      MIO_ACME_HTTP01_ADDR: `127.0.0.1:${httpPort}`,
      MIO_INVENTORY: 'false',
    });
    try {
      await core.createNamespacedSecret({
        namespace: opNs,
        body: { metadata: { name: 'eab' }, stringData: { hmac: pebble.eab.hmacKeyB64u } },
      });
      await core.createNamespacedSecret({
        namespace: opNs,
        body: { metadata: { name: 'tsig' }, stringData: { secret: pebble.dns.tsigSecretB64 } },
      });
      const co = ctx.kc.makeApiClient(k8s.CustomObjectsApi);
      await co.createClusterCustomObject({
        ...CAB,
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'CertificateAuthorityBinding',
          metadata: { name: 'bench-acme' },
          spec: {
            acme: {
              directoryURL: pebble.directoryURL,
              caBundle: pebble.caBundle,
              accountKeySecretRef: { name: 'acme-account' },
              externalAccountBinding: { keyID: pebble.eab.keyID, keySecretRef: { name: 'eab', key: 'hmac' } },
              solvers: dns01
                ? [
                    {
                      dns01: {
                        rfc2136: {
                          nameserver: pebble.dns.nameserver,
                          tsigKeyName: pebble.dns.tsigKeyName,
                          tsigSecretSecretRef: { name: 'tsig', key: 'secret' },
                        },
                      },
                    },
                  ]
                : [{ http01: {} }],
            },
          },
        },
      });
      for (let i = 0; i < 300; i++) {
        const b = (await co.getClusterCustomObject({ ...CAB, name: 'bench-acme' })) as {
          status?: { conditions?: { type: string; status: string }[] };
        };
        if (b.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = await phase(
        ctx,
        'ECDSA',
        256,
        n,
        conc,
        'bench-acme',
        dns01 ? (name, ns) => `${name}.${ns}.${pebble.dns.zone}` : undefined,
      );
      ctx.log(`${dns01 ? 'DNS-01' : 'HTTP-01'}: ${JSON.stringify(r)}`);
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${op.proc.pid}/status`, 'utf8'))?.[1];
      const errors = op.logLines().filter((l) => (l.level as number) >= 50).length;
      return {
        n,
        challenge: dns01 ? 'dns-01' : 'http-01',
        ...r,
        peak_rss_mb: hwm ? (Number(hwm) / 1024).toFixed(0) : 'n/a',
        operator_errors: errors,
      };
    } finally {
      await op.stop();
      await pebble.stopAll();
    }
  },
};
export default bench;
