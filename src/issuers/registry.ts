// Builds the Issuer for a binding spec. In-process backends (selfSigned, ca) are built here; the
// remote ones answer BackendNotSupported (a status reason, not an exception) until they land.
import { BACKENDS, type Backend } from '../crds/certificate-authority-binding.ts';
import type { Issuer } from './types.ts';
import type { CaMaterial } from './ca-material.ts';
import { SelfSignedIssuer } from './self-signed.ts';
import { InClusterCaIssuer } from './in-cluster-ca.ts';
import { KubernetesCsrIssuer } from './kubernetes-csr.ts';
import { CfsslIssuer } from './cfssl.ts';
import { StepCaIssuer } from './step-ca.ts';
import { AcmeIssuer } from './acme/issuer.ts';
import type { SolverSpec } from './acme/solvers.ts';
import type { Rfc2136Target } from './acme/rfc2136.ts';
import type { TsigAlgorithm } from './acme/dns-wire.ts';
import type * as k8s from '@kubernetes/client-node';

/** The parts of a (parsed, defaulted) binding spec the registry reads. */
export type BackendSpec = Partial<Record<Backend, unknown>>;

export interface BuildOptions {
  maxDurationMs?: number; now?: () => Date; kc?: k8s.KubeConfig; operatorNamespace?: string;
  /** A key of a Secret in the operator's namespace (auth keys, passwords), or undefined when missing. */
  secretValue?: (name: string, key: string) => string | undefined;
  /** The operator's ACME HTTP-01 Service, for http01.ingress solvers. */
  acmeIngress?: { serviceName: string; port: number; podIP?: string };
}
export type BuildResult = { issuer: Issuer } | { reason: string; message: string };

/** Which backend a spec selects; undefined when none or several are set (the CRD's CEL rule forbids both). */
export function backendOf(spec: BackendSpec): Backend | undefined {
  const set = BACKENDS.filter((b) => spec[b] !== undefined && spec[b] !== null);
  return set.length === 1 ? set[0] : undefined;
}

/** Where the remote backends stand; shown to users in the Ready condition. */
const PLANNED: Readonly<Record<string, string>> = {
  vault: 'the Vault / OpenBao PKI backend is not scheduled yet',
};

export function buildIssuer(spec: BackendSpec, material?: CaMaterial, o: BuildOptions = {}): BuildResult {
  const backend = backendOf(spec);
  switch (backend) {
    case undefined:
      return { reason: 'InvalidSpec', message: `exactly one CA backend must be set: ${BACKENDS.join(', ')}` };
    case 'selfSigned':
      return { issuer: new SelfSignedIssuer(o) };
    case 'ca':
      if (!material) return { reason: 'CASecretNotFound', message: 'no CA material loaded for the ca backend' };
      try {
        return { issuer: new InClusterCaIssuer(material, o) };
      } catch (e) {
        return { reason: 'InvalidCA', message: (e as Error).message };
      }
    case 'cfssl': return cfsslIssuer(spec, o);
    case 'stepCA': return stepCaIssuer(spec, o);
    case 'acme': return acmeIssuer(spec, o);
    case 'kubernetes': {
      const k = spec.kubernetes as { signerName?: string } | undefined;
      if (!o.kc || !k?.signerName) return { reason: 'InvalidSpec', message: 'kubernetes.signerName is required' };
      return { issuer: new KubernetesCsrIssuer(o.kc, k.signerName, o.operatorNamespace ?? 'default') };
    }
    default:
      return { reason: 'BackendNotSupported', message: `backend ${backend} is not supported by this version of the operator: ${PLANNED[backend] ?? 'planned for a later release'}. Use ca or selfSigned meanwhile.` };
  }
}

function cfsslIssuer(spec: BackendSpec, o: BuildOptions): BuildResult {
  const c = spec.cfssl as { url?: string; profile?: string; authKeySecretRef?: { name: string; key: string }; caBundle?: string } | undefined;
  if (!c?.url) return { reason: 'InvalidSpec', message: 'cfssl.url is required' };
  const ref = c.authKeySecretRef;
  const key = ref ? o.secretValue?.(ref.name, ref.key) : undefined;
  if (ref && key === undefined) return { reason: 'AuthKeyNotFound', message: `cfssl.authKeySecretRef: Secret ${ref.name} key ${ref.key} was not found in the operator's namespace` };
  return { issuer: new CfsslIssuer({ url: c.url, ...(c.profile ? { profile: c.profile } : {}), ...(key ? { authKeyHex: key } : {}), ...(c.caBundle ? { caBundle: c.caBundle } : {}),
    ...(o.maxDurationMs !== undefined ? { maxDurationMs: o.maxDurationMs } : {}) }) };
}

function stepCaIssuer(spec: BackendSpec, o: BuildOptions): BuildResult {
  const c = spec.stepCA as { url?: string; provisioner?: { name: string; passwordSecretRef?: { name: string; key: string } }; caBundle?: string } | undefined;
  const ref = c?.provisioner?.passwordSecretRef;
  if (!c?.url || !c.provisioner || !ref) return { reason: 'InvalidSpec', message: 'stepCA needs url, provisioner.name and provisioner.passwordSecretRef' };
  const password = o.secretValue?.(ref.name, ref.key);
  if (password === undefined) return { reason: 'PasswordNotFound', message: `stepCA.provisioner.passwordSecretRef: Secret ${ref.name} key ${ref.key} was not found in the operator's namespace` };
  return { issuer: new StepCaIssuer({ url: c.url, provisioner: c.provisioner.name, password: password.replace(/\r?\n$/, ''), ...(c.caBundle ? { caBundle: c.caBundle } : {}),
    ...(o.maxDurationMs !== undefined ? { maxDurationMs: o.maxDurationMs } : {}) }) };
}

interface AcmeSpec {
  directoryURL?: string; email?: string; accountKeySecretRef?: { name: string }; caBundle?: string; rootCertificates?: string; requestDuration?: boolean; profile?: string;
  externalAccountBinding?: { keyID: string; keySecretRef: { name: string; key: string } };
  solvers?: (SolverSpec & { dns01?: { rfc2136?: { nameserver: string; zone?: string; tsigKeyName?: string; tsigAlgorithm?: string; tsigSecretSecretRef?: { name: string; key: string } } } })[];
}

function acmeEab(a: AcmeSpec, o: BuildOptions): { eab?: { keyID: string; hmacKey: Buffer } } | { reason: string; message: string } {
  const e = a.externalAccountBinding;
  if (!e) return {};
  const v = o.secretValue?.(e.keySecretRef.name, e.keySecretRef.key);
  if (v === undefined) return { reason: 'EABKeyNotFound', message: `acme.externalAccountBinding.keySecretRef: Secret ${e.keySecretRef.name} key ${e.keySecretRef.key} was not found in the operator's namespace` };
  return { eab: { keyID: e.keyID, hmacKey: Buffer.from(v.trim(), 'base64url') } };
}

/** RFC 2136 targets by solver index, with TSIG secrets read from their Secrets. */
function acmeDnsTargets(a: AcmeSpec, o: BuildOptions): Map<number, Rfc2136Target> | { reason: string; message: string } {
  const targets = new Map<number, Rfc2136Target>();
  for (const [i, s] of (a.solvers ?? []).entries()) {
    const r = s.dns01?.rfc2136;
    if (!r) continue;
    const ref = r.tsigSecretSecretRef;
    const secret = ref ? o.secretValue?.(ref.name, ref.key) : undefined;
    if (ref && secret === undefined) return { reason: 'TSIGSecretNotFound', message: `acme.solvers[${i}].dns01.rfc2136.tsigSecretSecretRef: Secret ${ref.name} key ${ref.key} was not found in the operator's namespace` };
    const key = r.tsigKeyName && secret !== undefined ? { name: r.tsigKeyName, algorithm: (r.tsigAlgorithm ?? 'HMACSHA256') as TsigAlgorithm, secret: Buffer.from(secret.trim(), 'base64') } : undefined;
    targets.set(i, { nameserver: r.nameserver, ...(r.zone ? { zone: r.zone } : {}), ...(key ? { key } : {}) });
  }
  return targets;
}

function acmeIssuer(spec: BackendSpec, o: BuildOptions): BuildResult {
  const a = spec.acme as AcmeSpec | undefined;
  if (!a?.directoryURL || !a.accountKeySecretRef) return { reason: 'InvalidSpec', message: 'acme needs directoryURL and accountKeySecretRef' };
  const eab = acmeEab(a, o);
  if ('reason' in eab) return eab;
  const dnsTargets = acmeDnsTargets(a, o);
  if (!(dnsTargets instanceof Map)) return dnsTargets;
  const accountKeyPem = o.secretValue?.(a.accountKeySecretRef.name, 'tls.key');
  const ingress = o.acmeIngress ? { ...o.acmeIngress, namespace: o.operatorNamespace ?? 'default' } : undefined;
  const optional = { accountKeyPem, kc: o.kc, ingress, email: a.email, caBundle: a.caBundle, rootCertificates: a.rootCertificates, eab: eab.eab, profile: a.profile, maxDurationMs: o.maxDurationMs };
  return { issuer: new AcmeIssuer({ directoryURL: a.directoryURL, accountKeySecret: a.accountKeySecretRef.name, operatorNamespace: o.operatorNamespace ?? 'default',
    solvers: a.solvers ?? [], dnsTargets, requestDuration: a.requestDuration ?? false,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined && v !== '')) }) };
}
