// What every reconciler gets: clients, the shared informer caches, metrics and a logger.
import type * as k8s from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Informer } from '../runtime/informer.ts';
import type { OperatorConfig } from '../config.ts';
import type { BindingModel, MachineIdentityModel } from '../crds/index.ts';
import type { IssuerCache } from '../issuers/cache.ts';
import type { PolicyStore } from './issuance-policies/store.ts';
import type { PolicyFindings } from './issuance-policies/findings.ts';
import type { Parser } from '../parsing/parser.ts';
import type { ProjectedSecret } from './issuance/inspect.ts';

export interface OperatorContext {
  kc: k8s.KubeConfig;
  co: k8s.CustomObjectsApi;
  config: OperatorConfig;
  registry: Registry;
  log: Logger;
  informers: {
    /** MachineIdentities, parsed once per resourceVersion (crds/machine-identity-model.ts). */
    identities: Informer<MachineIdentityModel>;
    /** CertificateAuthorityBindings, parsed once per resourceVersion (crds/binding-model.ts). */
    bindings: Informer<BindingModel>;
    namespaces: Informer<k8s.V1Namespace>;
    /** Secrets in the operator's namespace (CA keys live there). */
    operatorSecrets: Informer<k8s.V1Secret>;
    /**
     * Secrets this operator wrote for identities (label machineidentity.io/identity), all namespaces,
     * projected: metadata, type and a digest of each value, never the data (anyone may add the label).
     */
    managedSecrets: Informer<ProjectedSecret>;
  };
  /** Parses bytes from the cluster off the event loop (worker threads), within a per-object budget. */
  parser: Parser;
  /** Live issuers per binding, maintained by the authority-binding controller. */
  issuers: IssuerCache;
  /** IssuancePolicies, compiled. */
  policies: PolicyStore;
  /** What the policies last said about each identity (fed by the issuance controller). */
  findings: PolicyFindings;
  now(): Date;
}

export const IDENTITY_GVR = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'machineidentities' } as const;
export const BINDING_GVR = {
  group: 'machineidentity.io',
  version: 'v1alpha1',
  plural: 'certificateauthoritybindings',
} as const;
export const POLICY_GVR = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'issuancepolicies' } as const;
