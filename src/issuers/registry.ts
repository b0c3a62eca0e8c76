// Builds the Issuer for a binding's parsed spec: the in-process backends (selfSigned, ca) and the
// remote ones (acme, stepCA, cfssl, kubernetes). What cannot be built (a missing setting or Secret,
// or vault, which this version does not have) is answered with a reason for the binding's Ready
// condition, never thrown.
import { BACKENDS, type Backend, type CertificateAuthorityBindingSpec } from '../crds/certificate-authority-binding.ts';
import { IssuerReason } from '../crds/reasons.ts';
import type { Issuer } from './types.ts';
import type { CaMaterial } from './ca-material.ts';
import { SelfSignedIssuer } from './self-signed.ts';
import { InClusterCaIssuer } from './in-cluster-ca.ts';
import { KubernetesCsrIssuer } from './kubernetes-csr.ts';
import { CfsslIssuer } from './cfssl.ts';
import { StepCaIssuer } from './step-ca.ts';
import { AcmeIssuer } from './acme/issuer.ts';
import type { Rfc2136Target } from './acme/rfc2136.ts';
import type * as k8s from '@kubernetes/client-node';

/** The backend fields of a (parsed, defaulted) binding spec: all the registry reads. */
export type BackendSpec = Pick<CertificateAuthorityBindingSpec, Backend>;
type AcmeSpec = NonNullable<BackendSpec['acme']>;
type Rfc2136Spec = NonNullable<NonNullable<NonNullable<AcmeSpec['solvers']>[number]['dns01']>['rfc2136']>;

export interface BuildOptions {
  maxDurationMs?: number;
  now?: () => Date;
  kc?: k8s.KubeConfig;
  operatorNamespace?: string;
  /** A key of a Secret in the operator's namespace (auth keys, passwords), or undefined when missing. */
  secretValue?: (name: string, key: string) => string | undefined;
  /** The operator's ACME HTTP-01 Service, for http01.ingress solvers. */
  acmeIngress?: { serviceName: string; port: number; podIP?: string };
}
type Refusal = { reason: IssuerReason; message: string };
export type BuildResult = { issuer: Issuer } | Refusal;

/** Which backend a spec selects; undefined when none or several are set (the CRD's CEL rule forbids both). */
export function backendOf(spec: Partial<BackendSpec>): Backend | undefined {
  const set = BACKENDS.filter((b) => spec[b] !== undefined && spec[b] !== null);
  return set.length === 1 ? set[0] : undefined;
}

const refuse = (reason: IssuerReason, message: string): Refusal => ({ reason, message });
const secretMissing = (field: string, ref: { name: string; key: string }): string =>
  `${field}: Secret ${ref.name} key ${ref.key} was not found in the operator's namespace`;
const maxDuration = (o: BuildOptions): { maxDurationMs?: number } =>
  o.maxDurationMs !== undefined ? { maxDurationMs: o.maxDurationMs } : {};

type Builder = (spec: BackendSpec, o: BuildOptions, material: CaMaterial | undefined) => BuildResult;
const BUILDERS: Readonly<Record<Backend, Builder>> = {
  selfSigned: (_spec, o) => ({ issuer: new SelfSignedIssuer(o) }),
  ca: (_spec, o, material) => caIssuer(material, o),
  cfssl: (spec, o) => cfsslIssuer(spec.cfssl, o),
  stepCA: (spec, o) => stepCaIssuer(spec.stepCA, o),
  acme: (spec, o) => acmeIssuer(spec.acme, o),
  kubernetes: (spec, o) => kubernetesIssuer(spec.kubernetes, o),
  vault: () =>
    refuse(
      IssuerReason.BackendNotSupported,
      'backend vault is not supported by this version of the operator: the Vault / OpenBao PKI backend is not scheduled yet. Use ca or selfSigned meanwhile.',
    ),
};

export function buildIssuer(spec: BackendSpec, material?: CaMaterial, o: BuildOptions = {}): BuildResult {
  const backend = backendOf(spec);
  if (backend === undefined) {
    return refuse(IssuerReason.InvalidSpec, `exactly one CA backend must be set: ${BACKENDS.join(', ')}`);
  }
  return BUILDERS[backend](spec, o, material);
}

function caIssuer(material: CaMaterial | undefined, o: BuildOptions): BuildResult {
  if (!material) return refuse(IssuerReason.CASecretNotFound, 'no CA material loaded for the ca backend');
  try {
    return { issuer: new InClusterCaIssuer(material, o) };
  } catch (e) {
    return refuse(IssuerReason.InvalidCA, (e as Error).message);
  }
}

function kubernetesIssuer(k: BackendSpec['kubernetes'], o: BuildOptions): BuildResult {
  if (!o.kc || !k?.signerName) return refuse(IssuerReason.InvalidSpec, 'kubernetes.signerName is required');
  return { issuer: new KubernetesCsrIssuer(o.kc, k.signerName, o.operatorNamespace ?? 'default') };
}

function cfsslIssuer(c: BackendSpec['cfssl'], o: BuildOptions): BuildResult {
  if (!c?.url) return refuse(IssuerReason.InvalidSpec, 'cfssl.url is required');
  const ref = c.authKeySecretRef;
  const key = ref ? o.secretValue?.(ref.name, ref.key) : undefined;
  if (ref && key === undefined)
    return refuse(IssuerReason.AuthKeyNotFound, secretMissing('cfssl.authKeySecretRef', ref));
  return {
    issuer: new CfsslIssuer({
      url: c.url,
      ...(c.profile ? { profile: c.profile } : {}),
      ...(key ? { authKeyHex: key } : {}),
      ...(c.caBundle ? { caBundle: c.caBundle } : {}),
      ...maxDuration(o),
    }),
  };
}

function stepCaIssuer(c: BackendSpec['stepCA'], o: BuildOptions): BuildResult {
  const ref = c?.provisioner?.passwordSecretRef;
  if (!c?.url || !c.provisioner || !ref) {
    return refuse(IssuerReason.InvalidSpec, 'stepCA needs url, provisioner.name and provisioner.passwordSecretRef');
  }
  const password = o.secretValue?.(ref.name, ref.key);
  if (password === undefined)
    return refuse(IssuerReason.PasswordNotFound, secretMissing('stepCA.provisioner.passwordSecretRef', ref));
  return {
    issuer: new StepCaIssuer({
      url: c.url,
      provisioner: c.provisioner.name,
      password: password.replace(/\r?\n$/, ''),
      ...(c.caBundle ? { caBundle: c.caBundle } : {}),
      ...maxDuration(o),
    }),
  };
}

function acmeEab(a: AcmeSpec, o: BuildOptions): { eab?: { keyID: string; hmacKey: Buffer } } | Refusal {
  const e = a.externalAccountBinding;
  if (!e) return {};
  const v = o.secretValue?.(e.keySecretRef.name, e.keySecretRef.key);
  if (v === undefined)
    return refuse(
      IssuerReason.EABKeyNotFound,
      secretMissing('acme.externalAccountBinding.keySecretRef', e.keySecretRef),
    );
  return { eab: { keyID: e.keyID, hmacKey: Buffer.from(v.trim(), 'base64url') } };
}

/** One solver's RFC 2136 target, with its TSIG secret read from its Secret. */
function dnsTarget(r: Rfc2136Spec, i: number, o: BuildOptions): Rfc2136Target | Refusal {
  const ref = r.tsigSecretSecretRef;
  const secret = ref ? o.secretValue?.(ref.name, ref.key) : undefined;
  if (ref && secret === undefined) {
    return refuse(
      IssuerReason.TSIGSecretNotFound,
      secretMissing(`acme.solvers[${i}].dns01.rfc2136.tsigSecretSecretRef`, ref),
    );
  }
  const key =
    r.tsigKeyName && secret !== undefined
      ? {
          name: r.tsigKeyName,
          algorithm: r.tsigAlgorithm ?? 'HMACSHA256',
          secret: Buffer.from(secret.trim(), 'base64'),
        }
      : undefined;
  return { nameserver: r.nameserver, ...(r.zone ? { zone: r.zone } : {}), ...(key ? { key } : {}) };
}

/** RFC 2136 targets by solver index. */
function acmeDnsTargets(a: AcmeSpec, o: BuildOptions): Map<number, Rfc2136Target> | Refusal {
  const targets = new Map<number, Rfc2136Target>();
  for (const [i, s] of (a.solvers ?? []).entries()) {
    if (!s.dns01?.rfc2136) continue;
    const target = dnsTarget(s.dns01.rfc2136, i, o);
    if ('reason' in target) return target;
    targets.set(i, target);
  }
  return targets;
}

function acmeIssuer(a: BackendSpec['acme'], o: BuildOptions): BuildResult {
  if (!a?.directoryURL || !a.accountKeySecretRef)
    return refuse(IssuerReason.InvalidSpec, 'acme needs directoryURL and accountKeySecretRef');
  const eab = acmeEab(a, o);
  if ('reason' in eab) return eab;
  const dnsTargets = acmeDnsTargets(a, o);
  if (!(dnsTargets instanceof Map)) return dnsTargets;
  const accountKeyPem = o.secretValue?.(a.accountKeySecretRef.name, 'tls.key');
  const ingress = o.acmeIngress ? { ...o.acmeIngress, namespace: o.operatorNamespace ?? 'default' } : undefined;
  const optional = {
    accountKeyPem,
    kc: o.kc,
    ingress,
    email: a.email,
    caBundle: a.caBundle,
    rootCertificates: a.rootCertificates,
    eab: eab.eab,
    profile: a.profile,
    maxDurationMs: o.maxDurationMs,
  };
  return {
    issuer: new AcmeIssuer({
      directoryURL: a.directoryURL,
      accountKeySecret: a.accountKeySecretRef.name,
      operatorNamespace: o.operatorNamespace ?? 'default',
      solvers: a.solvers ?? [],
      dnsTargets,
      requestDuration: a.requestDuration ?? false,
      ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined && v !== '')),
    }),
  };
}
