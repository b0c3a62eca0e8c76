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
import type * as k8s from '@kubernetes/client-node';

/** The parts of a (parsed, defaulted) binding spec the registry reads. */
export type BackendSpec = Partial<Record<Backend, unknown>>;

export interface BuildOptions {
  maxDurationMs?: number; now?: () => Date; kc?: k8s.KubeConfig; operatorNamespace?: string;
  /** A key of a Secret in the operator's namespace (auth keys, passwords), or undefined when missing. */
  secretValue?: (name: string, key: string) => string | undefined;
}
export type BuildResult = { issuer: Issuer } | { reason: string; message: string };

/** Which backend a spec selects; undefined when none or several are set (the CRD's CEL rule forbids both). */
export function backendOf(spec: BackendSpec): Backend | undefined {
  const set = BACKENDS.filter((b) => spec[b] !== undefined && spec[b] !== null);
  return set.length === 1 ? set[0] : undefined;
}

/** Where the remote backends stand; shown to users in the Ready condition. */
const PLANNED: Readonly<Record<string, string>> = {
  acme: 'the ACME backend (RFC 8555, HTTP-01/DNS-01) is tracked in issue #7 (External CAs)',
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
