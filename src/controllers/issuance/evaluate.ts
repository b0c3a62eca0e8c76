// The evaluate step: from the Secret as it is, the spec and the authority, whether to issue (the
// trigger chain in triggers.ts), when to renew, and what the policies say about the current certificate.
import type { ResolvedMachineIdentitySpec } from '../../crds/index.ts';
import { formatViolations } from '../../policy/evaluate.ts';
import { findingsForCertificate, policyCondition, recordFindings } from './apply-policies.ts';
import type { LeafFacts, SecretView } from './inspect.ts';
import { chainsTo, provenanceProblem, type ProvenanceInput } from './provenance.ts';
import { readSecret } from './read-secret.ts';
import type { Ready, Run } from './run.ts';
import { renewalTime } from './schedule.ts';
import { readRecord, RENEW_REQUESTED_AT } from './secret.ts';
import {
  issuanceTrigger,
  type DesiredIdentity,
  type SecretRecord,
  type Trigger,
  type TriggerInput,
} from './triggers.ts';

export interface Evaluation {
  trigger?: Trigger;
  renewal?: Date;
  leaf?: SecretView['leaf'];
}

export function evaluate(run: Run, p: Ready, replaced: string | undefined): Evaluation {
  const leaf = p.view?.leaf;
  const renewal = leaf ? renewalTime(leaf.notBefore, leaf.notAfter, p.spec, run.mi.metadata.uid) : undefined;
  const record = readRecord(p.secret);
  let remediation: string | undefined;
  if (leaf) remediation = checkCertificate(run, p, leaf, record.requestedDurationMs);
  else run.policy = policyCondition(p.decision, undefined, false);
  const trigger = issuanceTrigger(triggerInput(run, p, { record, renewal, replaced, remediation }));
  return { trigger, renewal, leaf };
}

function triggerInput(
  run: Run,
  p: Ready,
  o: { record: SecretRecord; renewal?: Date; replaced?: string; remediation?: string },
): TriggerInput {
  const { mi, ctx } = run;
  return {
    now: ctx.now(),
    desired: desiredIdentity(p.raw, p.authority),
    secretExists: Boolean(p.secret),
    ...secretFacts(p.view),
    record: o.record,
    ...(o.replaced ? { replaced: o.replaced } : {}),
    statusRevision: mi.status?.revision,
    renewalTime: o.renewal,
    renewRequestedAt: renewRequestedAt(run),
    authorityFingerprint: p.entry.issuer.backend === 'selfSigned' ? undefined : p.entry.health.caFingerprintSHA256,
    distrusted: p.entry.distrusted,
    policyRemediation: o.remediation,
  };
}

/** What the Secret holds, as the trigger chain reads it. */
function secretFacts(view: SecretView | undefined): Pick<TriggerInput, 'hasData' | 'cert' | 'keyMatches'> {
  const leaf = view?.leaf;
  return {
    hasData: view?.hasData ?? false,
    cert: leaf && { ...leaf, keySize: leaf.keySize },
    keyMatches: view?.keyMatches ?? false,
  };
}

/** The renew-requested-at annotation, when it holds a time. */
function renewRequestedAt(run: Run): Date | undefined {
  const requested = Date.parse(run.mi.metadata.annotations?.[RENEW_REQUESTED_AT] ?? '');
  return Number.isNaN(requested) ? undefined : new Date(requested);
}

/**
 * Why the Secret's certificate is not ours, if it is not. Nothing to do when it is the one status
 * records; otherwise (rare: a crash between the two writes, or a swapped pair) the chain is read
 * from the live Secret, since the cache keeps no data.
 */
export async function provenance(run: Run, p: Ready): Promise<string | undefined> {
  const { mi, ctx } = run;
  const leaf = p.view?.leaf;
  if (!leaf) return undefined;
  const statusFingerprint = mi.status?.fingerprintSHA256;
  if (statusFingerprint && statusFingerprint.toUpperCase() === leaf.fingerprintSHA256.toUpperCase()) return undefined;
  const selfSigned = p.entry.issuer.backend === 'selfSigned';
  const live = selfSigned ? undefined : await readSecret(ctx, mi.metadata.namespace, p.spec.secretName);
  const tlsCrt = Buffer.from(live?.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
  return provenanceProblem({
    leafFingerprint: leaf.fingerprintSHA256,
    ...revisions(run, p),
    chainsToAuthority: !selfSigned && chainsTo(tlsCrt, p.entry.health.caBundlePem ?? ''),
    selfSigned,
  });
}

/** What status and the Secret record of the certificate (fingerprint, revisions), the fields that are set. */
function revisions(
  run: Run,
  p: Ready,
): Pick<ProvenanceInput, 'statusFingerprint' | 'secretRevision' | 'statusRevision'> {
  const statusFingerprint = run.mi.status?.fingerprintSHA256;
  const secretRevision = readRecord(p.secret).revision;
  const statusRevision = run.mi.status?.revision;
  return {
    ...(statusFingerprint ? { statusFingerprint } : {}),
    ...(secretRevision !== undefined ? { secretRevision } : {}),
    ...(statusRevision !== undefined ? { statusRevision } : {}),
  };
}

/** Policy findings on the current certificate: sets the run's PolicyCompliant condition, returns why to remediate (if so). */
export function checkCertificate(
  run: Run,
  p: Ready,
  leaf: LeafFacts,
  requestedDurationMs: number | undefined,
): string | undefined {
  const findings = findingsForCertificate(run.ctx, run.mi, p.decision, leaf, p.spec.secretName, requestedDurationMs);
  recordFindings(run.ctx, run.mi, p.decision, findings);
  run.policy = policyCondition(p.decision, findings, findings.remediable.length > 0);
  return findings.remediable.length > 0
    ? formatViolations(findings.remediable, 'the current certificate violates')
    : undefined;
}

/** What the certificate must match, from the spec as written: an unset key size or duration matches any (policy resolves them). */
export function desiredIdentity(spec: ResolvedMachineIdentitySpec, authority: string): DesiredIdentity {
  const pk = spec.privateKey;
  const size = pk.algorithm === 'Ed25519' ? undefined : pk.size;
  return {
    commonName: spec.subject?.commonName,
    dnsNames: spec.dnsNames ?? [],
    ipAddresses: spec.ipAddresses ?? [],
    uris: spec.uris ?? [],
    emailAddresses: spec.emailAddresses ?? [],
    isCA: spec.isCA,
    keyAlgorithm: pk.algorithm,
    keySize: size,
    authority,
    durationMs: spec.durationMs,
  };
}
