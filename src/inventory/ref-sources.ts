// The Pod, Ingress and Gateway informers: projections of the references they make to Secrets, shared by
// the inventory (where each certificate is used) and validation (where each identity is served).
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Informer } from '../runtime/informer.ts';
import { apiServes } from '../runtime/kube.ts';
import type { PodRefs, TlsRefs } from './model.ts';
import { gatewayRefs, ingressRefs, podRefs } from './refs.ts';

/** An informer factory whose store holds each object's projection (`transform`), never the object. */
export function projectingInformer(o: { kc: k8s.KubeConfig; registry: Registry; logger: Logger }) {
  return <T extends k8s.KubernetesObject>(path: string, resource: string, transform: (raw: never) => T): Informer<T> =>
    new Informer<T>({
      kc: o.kc,
      path,
      registry: o.registry,
      logger: o.logger,
      resource,
      transform: (raw) => transform(raw as never),
    });
}

/** True when the Gateway API is served (it is an add-on). */
export function gatewayApiServed(kc: k8s.KubeConfig): Promise<boolean> {
  return apiServes(kc, '/apis/gateway.networking.k8s.io/v1', 'gateways');
}

export interface RefSources {
  pods: Informer<PodRefs & k8s.KubernetesObject>;
  tls: Informer<TlsRefs & k8s.KubernetesObject>[];
}

/**
 * The Pod, Ingress and Gateway informers (projections of their references only). The inventory owns
 * them; validation reads the same stores, and makes its own only when the inventory is off.
 */
export function createRefSources(o: {
  kc: k8s.KubeConfig;
  registry: Registry;
  logger: Logger;
  hasGateways: boolean;
}): RefSources {
  const informer = projectingInformer(o);
  const pods = informer(
    '/api/v1/pods',
    'inventory-pods',
    (p: k8s.V1Pod) => podRefs(p) as PodRefs & k8s.KubernetesObject,
  );
  const tls = [
    informer(
      '/apis/networking.k8s.io/v1/ingresses',
      'inventory-ingresses',
      (i: k8s.V1Ingress) => ingressRefs(i) as TlsRefs & k8s.KubernetesObject,
    ),
  ];
  if (o.hasGateways)
    tls.push(
      informer(
        '/apis/gateway.networking.k8s.io/v1/gateways',
        'inventory-gateways',
        (g: Parameters<typeof gatewayRefs>[0]) => gatewayRefs(g) as TlsRefs & k8s.KubernetesObject,
      ),
    );
  return { pods, tls };
}
