// The admission webhook as one component: serving certificate (ensured at start, renewed on a timer),
// the HTTPS server, and the caBundle kept in the ValidatingWebhookConfiguration.
import { Informer } from '../runtime/informer.ts';
import { bindingForOwnership } from '../controllers/binding-specs.ts';
import type { OperatorContext } from '../controllers/context.ts';
import { ensureServingCert, material } from './serving-cert.ts';
import { injectCaBundle } from './ca-bundle.ts';
import { startWebhookServer } from './server.ts';
import type * as k8s from '@kubernetes/client-node';

const RECHECK_MS = 6 * 3_600_000;

export interface Webhook {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startWebhook(ctx: OperatorContext): Promise<Webhook | undefined> {
  const w = ctx.config.webhook;
  if (!w) return undefined;
  const { kc, log } = ctx;
  const ns = ctx.config.namespace;
  let current = await ensureServingCert(kc, ns, w.secretName, w.hosts);
  const server = await startWebhookServer({
    host: w.host,
    port: w.port,
    material: current,
    logger: log,
    registry: ctx.registry,
    deps: {
      policies: () => ctx.policies.compiled(),
      namespaceLabels: (n) => ctx.informers.namespaces.get(n)?.metadata?.labels,
      defaultAction: ctx.config.policyDefaultAction,
      binding: (name) => bindingForOwnership(ctx, name),
      clusterDomain: ctx.config.clusterDomain,
      ready: () =>
        ctx.policies.informer.hasSynced() && ctx.informers.namespaces.hasSynced() && ctx.informers.bindings.hasSynced(),
    },
  });
  log.info({ port: server.port, hosts: w.hosts }, 'admission webhook listening');

  const inject = async (): Promise<void> => {
    if (!w.configName) return;
    try {
      if (await injectCaBundle(kc, w.configName, current.caPem))
        log.info({ configuration: w.configName }, 'webhook caBundle updated');
    } catch (e) {
      log.error({ err: e }, 'updating the webhook caBundle failed; retrying on the next change');
    }
  };
  // another replica renewed the Secret: serve its certificate
  ctx.informers.operatorSecrets.onUpdate((_o, s) => {
    if (s.metadata?.name !== w.secretName || !s.data) return;
    try {
      const m = material(s.data);
      if (m.certPem === current.certPem) return;
      current = m;
      server.setMaterial(m);
      void inject();
    } catch (e) {
      log.warn({ err: e }, 'webhook serving Secret unreadable; keeping the current certificate');
    }
  });
  let vwcs: Informer<k8s.V1ValidatingWebhookConfiguration> | undefined;
  if (w.configName) {
    // Helm upgrades rewrite the configuration without a caBundle: put it back at once
    vwcs = new Informer<k8s.V1ValidatingWebhookConfiguration>({
      kc,
      path: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
      fieldSelector: `metadata.name=${w.configName}`,
      registry: ctx.registry,
      logger: log,
    });
    vwcs.onAdd(() => void inject()).onUpdate(() => void inject());
    vwcs.start();
  }
  const timer = setInterval(() => {
    void ensureServingCert(kc, ns, w.secretName, w.hosts)
      .then((m) => {
        if (m.certPem !== current.certPem) {
          current = m;
          server.setMaterial(m);
          log.info({ notAfter: m.notAfter }, 'webhook serving certificate renewed');
        }
        return inject();
      })
      .catch((e: unknown) => log.error({ err: e }, 'webhook serving certificate check failed'));
  }, RECHECK_MS);
  timer.unref();
  await inject();
  return {
    port: server.port,
    async stop() {
      clearInterval(timer);
      await vwcs?.stop();
      await server.close();
    },
  };
}
