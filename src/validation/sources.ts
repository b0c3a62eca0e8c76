// The informers validation reads besides the inventory's Pods, Ingresses and Gateways (which it shares:
// one cache each): Services, EndpointSlices, Ingress and Gateway classes, webhook configurations and
// APIServices, each kept as a small projection (./projections.ts), never the object.
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Informer } from '../runtime/informer.ts';
import { projectingInformer, type RefSources } from '../inventory/ref-sources.ts';
import {
  apiServiceRef,
  classRef,
  serviceRef,
  sliceRef,
  webhookRef,
  type ClassRef,
  type ServiceRef,
  type SliceRef,
  type WebhookRef,
} from './projections.ts';
import type { TargetInput } from './target-index.ts';

type Obj<T> = T & k8s.KubernetesObject;

export interface ValidationSources {
  services: Informer<Obj<ServiceRef>>;
  slices: Informer<Obj<SliceRef>>;
  ingressClasses: Informer<Obj<ClassRef>>;
  /** Empty when the Gateway API is not served. */
  gatewayClasses: Informer<Obj<ClassRef>>[];
  webhooks: Informer<Obj<WebhookRef>>[];
  /** The validation informers only (start/stop them); the shared Pod/Ingress/Gateway ones belong to `refs`. */
  all(): Informer<k8s.KubernetesObject>[];
  /** Every projection the target mapping reads, but the identities and certificate Secrets. */
  snapshot(): Omit<TargetInput, 'identities' | 'secrets'>;
  /** Called after any add, update or delete in these informers or the shared ones. */
  onChange(fn: () => void): void;
}

export function createValidationSources(o: {
  kc: k8s.KubeConfig;
  registry: Registry;
  logger: Logger;
  /** See gatewayApiServed in src/inventory/ref-sources.ts. */
  hasGateways: boolean;
  /** The inventory's Pod, Ingress and Gateway informers (createRefSources when the inventory is off). */
  refs: RefSources;
}): ValidationSources {
  const informer = projectingInformer(o);
  const services = informer(
    '/api/v1/services',
    'validation-services',
    (s: k8s.V1Service) => serviceRef(s) as Obj<ServiceRef>,
  );
  const slices = informer(
    '/apis/discovery.k8s.io/v1/endpointslices',
    'validation-endpointslices',
    (s: k8s.V1EndpointSlice) => sliceRef(s) as Obj<SliceRef>,
  );
  const ingressClasses = informer(
    '/apis/networking.k8s.io/v1/ingressclasses',
    'validation-ingressclasses',
    (c: k8s.KubernetesObject) => classRef('IngressClass', c) as Obj<ClassRef>,
  );
  const gatewayClasses = o.hasGateways
    ? [
        informer(
          '/apis/gateway.networking.k8s.io/v1/gatewayclasses',
          'validation-gatewayclasses',
          (c: k8s.KubernetesObject) => classRef('GatewayClass', c) as Obj<ClassRef>,
        ),
      ]
    : [];
  const webhooks = [
    informer(
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
      'validation-validatingwebhookconfigurations',
      (w: Parameters<typeof webhookRef>[1]) => webhookRef('ValidatingWebhookConfiguration', w) as Obj<WebhookRef>,
    ),
    informer(
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      'validation-mutatingwebhookconfigurations',
      (w: Parameters<typeof webhookRef>[1]) => webhookRef('MutatingWebhookConfiguration', w) as Obj<WebhookRef>,
    ),
    informer(
      '/apis/apiregistration.k8s.io/v1/apiservices',
      'validation-apiservices',
      (a: Parameters<typeof apiServiceRef>[0]) => apiServiceRef(a) as Obj<WebhookRef>,
    ),
  ];
  const own = [
    services,
    slices,
    ingressClasses,
    ...gatewayClasses,
    ...webhooks,
  ] as unknown as Informer<k8s.KubernetesObject>[];
  const changed: (() => void)[] = [];
  const fire = (): void => {
    for (const fn of changed) fn();
  };
  for (const i of [...own, o.refs.pods, ...o.refs.tls] as Informer<k8s.KubernetesObject>[])
    i.onAdd(fire).onUpdate(fire).onDelete(fire);
  return {
    services,
    slices,
    ingressClasses,
    gatewayClasses,
    webhooks,
    all: () => own,
    snapshot: () => ({
      pods: o.refs.pods.list(),
      tls: o.refs.tls.flatMap((i) => i.list()),
      services: services.list(),
      slices: slices.list(),
      ingressClasses: ingressClasses.list(),
      gatewayClasses: gatewayClasses.flatMap((i) => i.list()),
      webhooks: webhooks.flatMap((i) => i.list()),
    }),
    onChange: (fn) => {
      changed.push(fn);
    },
  };
}
