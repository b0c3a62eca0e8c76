// A CertificateAuthorityBinding as the controllers and the signer see it (see model.ts): the parsed
// spec with every duration in milliseconds and caRotation's defaults applied, or the ValidationError;
// the status parsed leniently. The one place a binding is parsed.
import type * as k8s from '@kubernetes/client-node';
import { API_VERSION } from './common.ts';
import { CertificateAuthorityBindingSpec } from './certificate-authority-binding.ts';
import { CertificateAuthorityBindingStatus } from './certificate-authority-binding-status.ts';
import { durationMs, lenientStatus, metadataOf, rawParts, validFields, type Model } from './model.ts';
import { formatPath, ValidationError } from './parse.ts';

type Spec = CertificateAuthorityBindingSpec;
type CaSpec = NonNullable<Spec['ca']>;
type CaGenerate = NonNullable<CaSpec['generate']>;
type SignerSpec = NonNullable<Spec['signer']>;

/** caRotation when the spec leaves it out (the schema's own field defaults). */
export const DEFAULT_CA_ROTATION = { propagationDelay: '5m', overlap: '24h' } as const;

interface ResolvedCaRotation {
  propagationDelay: string;
  overlap: string;
  propagationDelayMs: number;
  overlapMs: number;
}

export type ResolvedBindingSpec = Omit<Spec, 'ca' | 'signer' | 'caRotation'> & {
  /** spec.maxDuration in ms, when set. */
  maxDurationMs?: number;
  ca?: Omit<CaSpec, 'generate'> & { generate?: CaGenerate & { durationMs: number } };
  signer?: SignerSpec & { maxPodCertificateDurationMs: number };
  /** Always present: the defaults when the spec leaves it out. */
  caRotation: ResolvedCaRotation;
};

export type BindingModel = Model<ResolvedBindingSpec, CertificateAuthorityBindingStatus, Partial<Spec>>;
/** A binding whose spec parsed. */
export type ValidBindingModel = Extract<BindingModel, { spec: ResolvedBindingSpec }>;

function resolveCa(ca: CaSpec): NonNullable<ResolvedBindingSpec['ca']> {
  const { generate, ...rest } = ca;
  return generate ? { ...rest, generate: { ...generate, durationMs: durationMs(generate.duration) } } : rest;
}

/** Durations in milliseconds and caRotation defaulted; nothing else changes. */
function resolveBindingSpec(spec: Spec): ResolvedBindingSpec {
  const { ca, signer, caRotation, ...rest } = spec;
  const rotation = caRotation ?? DEFAULT_CA_ROTATION;
  const out: ResolvedBindingSpec = {
    ...rest,
    caRotation: {
      ...rotation,
      propagationDelayMs: durationMs(rotation.propagationDelay),
      overlapMs: durationMs(rotation.overlap),
    },
  };
  if (spec.maxDuration !== undefined) out.maxDurationMs = durationMs(spec.maxDuration);
  if (ca) out.ca = resolveCa(ca);
  if (signer) out.signer = { ...signer, maxPodCertificateDurationMs: durationMs(signer.maxPodCertificateDuration) };
  return out;
}

/** The informer's transform for CertificateAuthorityBindings: parses the object once per resourceVersion. */
export function toBindingModel(obj: k8s.KubernetesObject): BindingModel {
  const raw = rawParts(obj);
  const metadata = metadataOf(obj);
  const base = {
    apiVersion: obj.apiVersion ?? API_VERSION,
    kind: obj.kind ?? 'CertificateAuthorityBinding',
    metadata,
    status: lenientStatus(CertificateAuthorityBindingStatus, raw.status),
  };
  const parsed = CertificateAuthorityBindingSpec.safeParse(raw.spec ?? {});
  if (parsed.success) return { ...base, spec: resolveBindingSpec(parsed.data) };
  const issues = parsed.error.issues.map((i) => ({ path: formatPath(['spec', ...i.path]), message: i.message }));
  const invalid = new ValidationError('CertificateAuthorityBinding', metadata.name, issues);
  return { ...base, invalid, partial: validFields(CertificateAuthorityBindingSpec, raw.spec) };
}

/** The InvalidSpec condition message of a binding: field paths relative to spec, as it has always read. */
export function invalidBindingSpecMessage(e: ValidationError): string {
  const rel = (path: string): string => path.replace(/^spec\.?/, '').replace(/\[(\d+)\]/g, '.$1') || 'spec';
  return `invalid spec: ${e.issues.map((i) => `${rel(i.path)}: ${i.message}`).join('; ')}`;
}

/** The spec, or of an invalid one the fields valid on their own: for references (Secrets to watch), never for issuing. */
export function bindingFields(b: BindingModel): Partial<Spec> | ResolvedBindingSpec {
  return b.spec ?? b.partial;
}
