// Reconciler: keeps each MachineIdentity's Secret holding a valid key and certificate that match its
// spec and its authority's current CA: issues, renews, repairs and reports. Level-based: every
// decision is made from the caches, never from the event that woke it. The steps, in order:
// prerequisites (spec, authority, Secret ownership) → evaluate (the trigger chain) → maintain (nothing
// to issue: adopt, repair metadata, schedule) or gate (backoff, re-issue pacing) → issue → record.
import type { MachineIdentityModel } from '../../crds/index.ts';
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Controller, type ReconcileResult } from '../../runtime/reconcile-loop.ts';
import { getJsonOrNotFound } from '../../runtime/kube.ts';
import { TokenBucket } from './token-bucket.ts';
import { FairShare } from './fair-share.ts';
import { RecentlyWritten } from './written.ts';
import { bindingFields, identityFields, type IssuableSpec, type ResolvedMachineIdentitySpec } from '../../crds/index.ts';
import { describeKey } from '../../pki/keys.ts';
import type { AuthorityEntry } from '../../issuers/cache.ts';
import { decideAuthority, type BindingView } from '../authority-access.ts';
import { Reason } from '../../crds/reasons.ts';
import { recordEvent } from '../events.ts';
import { issuanceTrigger, type DesiredIdentity, type Trigger } from './triggers.ts';
import { readRecord, isOwnedBy, RENEW_REQUESTED_AT, LABEL_IDENTITY } from './secret.ts';
import { inspectSecret, forgetSecret, primeView, projectSecret, MANAGED_SECRET_MAX_BYTES, type SecretView } from './inspect.ts';
import { renewalTime, failureBackoffMs } from './schedule.ts';
import { writeStatus, certStatus, forgetApplied, freshest, type StatusChange } from './status.ts';
import { issue, renewalSpec, cleanupNextKeys, NextKeyIndex, type IssueOutcome } from './issue.ts';
import { repairMetadata } from './repair.ts';
import { issuanceMetrics } from './issuance-metrics.ts';
import { crashPoint } from './fault.ts';
import { revokeOnDeletion, syncRevocationFinalizer } from './revocation.ts';
import { decideForIdentity, effectiveSpec, findingsForCertificate, policyCondition, recordFindings } from './apply-policies.ts';
import type { CertFacts } from '../../pki/certs.ts';
import { formatViolations } from '../../policy/evaluate.ts';
import type { IdentityDecision } from '../../policy/decide.ts';
import { caNameConstraints } from '../../policy/ownership.ts';
import type { NameConstraintLists } from '../../pki/name-constraints.ts';
import { bindingForOwnership } from '../binding-specs.ts';
import { chainsTo, provenanceProblem } from './provenance.ts';
import type { ConditionInput } from '../status/conditions.ts';
import type { OperatorContext } from '../context.ts';

const RESYNC_MS = 10 * 60 * 60_000;
const AGILITY_REASONS = new Set<string>([Reason.AuthorityChanged, Reason.AuthorityDistrusted, Reason.PolicyRemediation]);
/** Reasons that move an identity to the authority's current CA: they wait until every trust bundle carries it (plus the propagation delay). */
const CA_CHANGE_REASONS = new Set<string>([Reason.AuthorityChanged, Reason.AuthorityDistrusted]);
/** Re-check a held re-issuance at least this often (the issuer cache also wakes identities when the hold changes). */
const CA_HOLD_RECHECK_MS = 30_000;

export interface IssuanceOptions { durableKeys?: boolean; reissueRatePerSecond?: number }

/** Everything one reconcile of one identity needs. */
interface Run {
  ctx: OperatorContext;
  nextKeys: NextKeyIndex;
  written: RecentlyWritten;
  mi: MachineIdentityModel;
  log: Logger;
  event(type: 'Normal' | 'Warning', reason: string, message: string): void;
  /** The PolicyCompliant condition once known; every status write of the run carries it. */
  policy?: ConditionInput;
  write(change: StatusChange): Promise<boolean>;
}
interface Ready {
  /** The spec with policy-resolved defaults (what is issued); `raw` is the spec as written. */
  spec: IssuableSpec; raw: ResolvedMachineIdentitySpec; decision: IdentityDecision;
  authority: string; entry: AuthorityEntry; secret?: k8s.V1Secret; view?: SecretView;
}

export function issuanceController(ctx: OperatorContext, opts: IssuanceOptions = {}): Controller {
  const { identities, bindings, namespaces, managedSecrets } = ctx.informers;
  const m = issuanceMetrics(ctx.registry);
  const nextKeys = new NextKeyIndex();
  const share = new FairShare(ctx.config.workers);
  const written = new RecentlyWritten();
  const buckets = new Map<string, TokenBucket>();
  const rate = opts.reissueRatePerSecond ?? 20;
  const pace = (authority: string): number => {
    let b = buckets.get(authority);
    if (!b) buckets.set(authority, (b = new TokenBucket(rate, rate)));
    return b.take();
  };

  const c = new Controller({
    name: 'issuance', logger: ctx.log, registry: ctx.registry, workers: ctx.config.workers,
    // policies too: nothing is issued before every IssuancePolicy is known
    informers: [identities, bindings, namespaces, managedSecrets, ctx.policies.informer],
    reconcile: async (key, { log }) => {
      const cached = identities.get(key);
      if (!cached?.metadata?.uid) return undefined;
      return cached.metadata.deletionTimestamp ? revokeOnDeletion(ctx, cached, ctx.issuers.get(identityFields(cached).authorityRef?.name ?? '')?.issuer) : live(cached, log);
    },
  });

  async function live(cached: MachineIdentityModel, log: Logger): Promise<ReconcileResult | undefined> {
    {
      const mi = freshest(cached);
      // a new identity certainly needs an issuance: wait for a slot before doing any I/O for it
      if (mi.status?.revision === undefined && !share.hasRoom(identityFields(mi).authorityRef?.name ?? '')) return { requeueAfterMs: 100 };
      const run = newRun(ctx, { nextKeys, written }, mi, log);
      const pre = await prerequisites(run, () => m.total.inc({ authority: identityFields(mi).authorityRef?.name ?? '', result: 'denied' }));
      if (!pre || !('spec' in pre)) return pre;
      const { trigger, renewal, leaf } = evaluate(run, pre, await provenance(run, pre));
      if (!trigger && pre.secret && leaf && renewal) return maintain(run, pre, renewal);
      const hold = caHold(pre, trigger);
      if (hold > 0 && pre.secret && leaf) return holdForTrustBundles(run, pre, hold);
      return attempt(run, pre, trigger, leaf?.notAfter);
    }
  }

  /** Gate (backoff, pacing, fair share), issue, and record the outcome. */
  async function attempt(run: Run, pre: Ready, trigger: Trigger | undefined, currentNotAfter: Date | undefined): Promise<ReconcileResult> {
    const { mi } = run;
    const t: Trigger = trigger ?? { reason: Reason.DoesNotExist, message: 'no certificate yet', stillValid: false };
    const wait = gate(mi, t, pre, pace);
    if (wait > 0) return { requeueAfterMs: wait };
    if (!share.tryAcquire(pre.authority)) return { requeueAfterMs: 200 };
    let out: IssueOutcome;
    const revision = nextRevision(mi, pre.secret);
    const stop = m.duration.startTimer({ authority: pre.authority });
    try {
      run.event('Normal', Reason.Issuing, `issuing: ${t.message}`);
      out = await issue(run.ctx, { mi, spec: pre.spec, authority: pre.authority, entry: pre.entry, current: pre.view, revision, durableKeys: opts.durableKeys ?? false,
        ...(pre.secret?.metadata?.resourceVersion ? { secretResourceVersion: pre.secret.metadata.resourceVersion } : {}),
        ...(pre.spec.isCA ? { caConstraints: caConstraintsFor(run.ctx, mi, pre.authority) } : {}) });
    } finally { share.release(pre.authority); }
    if (out.kind === 'issued') stop();
    // a CA still working (pending) is not an attempt's result: the attempt is counted when it ends
    if (out.kind !== 'pending') m.total.inc({ authority: pre.authority, result: out.kind === 'issued' ? 'success' : out.kind });
    if (out.kind === 'failed' || out.kind === 'denied') m.caErrors.inc({ authority: pre.authority, backend: pre.entry.issuer.backend, reason: out.reason });
    return record(run, pre, t, out, revision, currentNotAfter);
  }

  const enqueue = (o: MachineIdentityModel): void => c.queue.add(`${o.metadata?.namespace}/${o.metadata?.name}`);
  identities.onAdd(enqueue).onUpdate((_o, n) => enqueue(n)).onDelete((o) => {
    forgetApplied(o.metadata?.uid); ctx.findings.delete(`${o.metadata?.namespace}/${o.metadata?.name}`); enqueue(o);
  });
  // a policy change may deny, allow, reshape or remediate any identity
  ctx.policies.onChange(() => { for (const mi of identities.list()) enqueue(mi); });
  // a stored next key wakes its identity too, so one that appears after its cleanup ran is removed
  const bySecret = (s: k8s.V1Secret): void => {
    const owner = s.metadata?.labels?.[LABEL_IDENTITY];
    if (owner) c.queue.add(`${s.metadata!.namespace}/${owner}`);
  };
  managedSecrets.onAdd((s) => { nextKeys.add(s); bySecret(s); }).onUpdate((_o, s) => { nextKeys.add(s); bySecret(s); })
    .onDelete((s) => { nextKeys.remove(s); forgetSecret(s.metadata?.uid); written.forget(`${s.metadata?.namespace}/${s.metadata?.name}`); bySecret(s); });
  const byAuthority = (name: string | undefined): void => {
    for (const mi of identities.list()) if (identityFields(mi).authorityRef?.name === name) enqueue(mi);
  };
  bindings.onAdd((b) => byAuthority(b.metadata?.name)).onUpdate((_o, b) => byAuthority(b.metadata?.name)).onDelete((b) => byAuthority(b.metadata?.name));
  ctx.issuers.onChange(byAuthority);
  namespaces.onUpdate((o, n) => {
    if (JSON.stringify(o.metadata?.labels ?? {}) === JSON.stringify(n.metadata?.labels ?? {})) return;
    for (const mi of identities.list()) if (mi.metadata?.namespace === n.metadata?.name) enqueue(mi);
  });
  return c;
}

function newRun(ctx: OperatorContext, state: Pick<Run, 'nextKeys' | 'written'>, mi: MachineIdentityModel, log: Logger): Run {
  const ref = { apiVersion: 'machineidentity.io/v1alpha1', kind: 'MachineIdentity', name: mi.metadata!.name!, namespace: mi.metadata!.namespace!, uid: mi.metadata!.uid };
  const run: Run = { ctx, ...state, mi, log, event: (type, reason, message) => void recordEvent(ctx, ref, type, reason, message),
    write: (change) => writeStatus(ctx, mi, run.policy && !change.policy ? { ...change, policy: run.policy } : change) };
  return run;
}

/** The name constraints of a CA certificate for this identity: what its namespace may hold under the binding. */
function caConstraintsFor(ctx: OperatorContext, mi: MachineIdentityModel, authority: string): NameConstraintLists {
  const ns = mi.metadata!.namespace!;
  return caNameConstraints(bindingForOwnership(ctx, authority),
    { namespace: ns, namespaceLabels: ctx.informers.namespaces.get(ns)?.metadata?.labels ?? {}, clusterDomain: ctx.config.clusterDomain });
}

/** Valid spec that policy allows, an authority that serves this namespace and is Ready, and a Secret that is ours or absent. */
async function prerequisites(run: Run, countDenial: () => void): Promise<Ready | ReconcileResult | undefined> {
  const { ctx, mi } = run;
  const notReady = async (reason: string, message: string): Promise<undefined> => {
    if (await run.write({ ready: { type: 'Ready', status: 'False', reason, message } })) run.event('Warning', reason, message);
    return undefined;
  };
  if (!mi.spec) return notReady(Reason.InvalidSpec, mi.invalid.message);
  const raw = mi.spec;
  const ns = mi.metadata!.namespace!;
  const authority = raw.authorityRef.name;
  const { bindings, namespaces } = ctx.informers;
  // the authority first: what the namespace may hold depends on the binding's grants
  const views = new Map<string, BindingView>(bindings.list().map((b) => [b.metadata!.name!, { name: b.metadata!.name!, namespaceSelector: bindingFields(b).namespaceSelector }]));
  const access = decideAuthority(authority, ns, namespaces.get(ns)?.metadata?.labels, views);
  if (!access.allowed) return notReady(access.reason, access.message);
  const decision = decideForIdentity(ctx, mi, raw);
  recordFindings(ctx, mi, decision);
  if (!decision.verdict.allowed) {
    // the current certificate, if any, is left as it is: a spec that violates is reported, never touched
    run.policy = policyCondition(decision, undefined, false);
    if (await run.write({ ready: { type: 'Ready', status: 'False', reason: decision.reason, message: decision.denial } })) {
      run.event('Warning', decision.reason, decision.denial);
      countDenial();
    }
    return undefined;
  }
  const spec = effectiveSpec(raw, decision);
  const entry = ctx.issuers.get(authority);
  if (!entry) {
    const why = bindings.get(authority)?.status?.conditions?.find((x) => x.type === 'Ready')?.message ?? 'not reconciled yet';
    return notReady(Reason.AuthorityNotReady, `CertificateAuthorityBinding ${JSON.stringify(authority)} is not Ready: ${why}`);
  }
  await syncRevocationFinalizer(ctx, mi, spec.deletionPolicy === 'Delete' && typeof entry.issuer.revoke === 'function');
  const held = await currentSecret(run, spec.secretName, notReady);
  if (!held || 'requeueAfterMs' in held) return held;
  return { spec, raw, decision, authority, entry, ...held };
}

/** The identity's Secret (ours or absent) and what it holds; a Secret of someone else's or one too large to read stops here. */
async function currentSecret(run: Run, secretName: string, notReady: (reason: string, message: string) => Promise<undefined>): Promise<{ secret?: k8s.V1Secret; view?: SecretView } | ReconcileResult | undefined> {
  const { ctx, mi } = run;
  const ns = mi.metadata!.namespace!;
  let secret: k8s.V1Secret | undefined = run.written.get(`${ns}/${secretName}`, ctx.informers.managedSecrets.get(`${ns}/${secretName}`));
  if (!secret || !isOwnedBy(secret, mi.metadata!.name!)) {
    // the cache only holds our labelled Secrets: a live read tells "absent" from "someone else's"
    const live = await readSecret(ctx, ns, secretName);
    if (live && !isOwnedBy(live, mi.metadata!.name!)) {
      await notReady(Reason.SecretNotOwned, `Secret ${JSON.stringify(secretName)} exists and was not created for this MachineIdentity; it is left untouched: delete it or choose another spec.secretName`);
      return { requeueAfterMs: 60_000 };
    }
    secret = live;
  }
  if (!secret) return {};
  const view = await inspectSecret(ctx.parser, secret, () => readSecret(ctx, ns, secretName));
  if (view.oversize && oversizeAfterOurWrite(mi, secret)) {
    // we already reissued into it and it is still too large (someone else's keys): reissuing again cannot help
    await notReady(Reason.SecretOversize, `Secret ${JSON.stringify(secretName)} holds more than ${MANAGED_SECRET_MAX_BYTES} bytes of data; it is not read: remove the extra keys`);
    return { requeueAfterMs: 300_000 };
  }
  return { secret, view };
}

/** Identity uid → the revision issued because its Secret was oversize (at most one such reissue per revision). */
const oversizeReissued = new Map<string, number>();

/** The Secret is oversize again right after a reissue made for that reason: the bulk is in keys we do not write. */
function oversizeAfterOurWrite(mi: MachineIdentityModel, secret: k8s.V1Secret): boolean {
  const uid = mi.metadata!.uid!, rev = readRecord(secret).revision;
  const mark = oversizeReissued.get(uid);
  if (mark !== undefined && rev !== undefined && rev >= mark) return true;
  if (oversizeReissued.size > 10_000) oversizeReissued.clear();
  oversizeReissued.set(uid, nextRevision(mi, secret));
  return false;
}

function evaluate(run: Run, p: Ready, replaced: string | undefined): { trigger?: Trigger; renewal?: Date; leaf?: SecretView['leaf'] } {
  const { mi, ctx } = run;
  const leaf = p.view?.leaf;
  const renewal = leaf ? renewalTime(leaf.notBefore, leaf.notAfter, renewalSpec(p.spec), mi.metadata!.uid!) : undefined;
  const requested = Date.parse(mi.metadata?.annotations?.[RENEW_REQUESTED_AT] ?? '');
  const key = leaf ? describeKey(leaf.publicKey) : undefined;
  const record = readRecord(p.secret);
  let remediation: string | undefined;
  if (leaf) remediation = checkCertificate(run, p, leaf, record.requestedDuration);
  else run.policy = policyCondition(p.decision, undefined, false);
  const trigger = issuanceTrigger({
    now: ctx.now(), desired: desiredIdentity(p.raw, p.authority), secretExists: Boolean(p.secret), hasData: p.view?.hasData ?? false,
    cert: leaf && key && { ...leaf, keyAlgorithm: key.algorithm, keySize: key.size }, keyMatches: p.view?.keyMatches ?? false, record,
    ...(replaced ? { replaced } : {}),
    statusRevision: mi.status?.revision as number | undefined, renewalTime: renewal,
    renewRequestedAt: Number.isNaN(requested) ? undefined : new Date(requested),
    authorityFingerprint: p.entry.issuer.backend === 'selfSigned' ? undefined : p.entry.health.caFingerprintSHA256, distrusted: p.entry.distrusted,
    policyRemediation: remediation,
  });
  return { trigger, renewal, leaf };
}

/**
 * Why the Secret's certificate is not ours, if it is not. Nothing to do when it is the one status
 * records; otherwise (rare: a crash between the two writes, or a swapped pair) the chain is read
 * from the live Secret, since the cache keeps no data.
 */
async function provenance(run: Run, p: Ready): Promise<string | undefined> {
  const { mi, ctx } = run;
  const leaf = p.view?.leaf;
  if (!leaf) return undefined;
  const statusFingerprint = mi.status?.fingerprintSHA256 as string | undefined;
  if (statusFingerprint && statusFingerprint.toUpperCase() === leaf.fingerprintSHA256.toUpperCase()) return undefined;
  const selfSigned = p.entry.issuer.backend === 'selfSigned';
  const live = selfSigned ? undefined : await readSecret(ctx, mi.metadata!.namespace!, p.spec.secretName);
  const tlsCrt = Buffer.from(live?.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
  const secretRevision = readRecord(p.secret).revision;
  return provenanceProblem({ leafFingerprint: leaf.fingerprintSHA256, ...(statusFingerprint ? { statusFingerprint } : {}),
    ...(secretRevision !== undefined ? { secretRevision } : {}), ...(mi.status?.revision !== undefined ? { statusRevision: mi.status.revision as number } : {}),
    chainsToAuthority: !selfSigned && chainsTo(tlsCrt, p.entry.health.caBundlePem ?? ''), selfSigned });
}

/** Policy findings on the current certificate: sets the run's PolicyCompliant condition, returns why to remediate (if so). */
function checkCertificate(run: Run, p: Ready, leaf: CertFacts, requestedDuration: string | undefined): string | undefined {
  const findings = findingsForCertificate(run.ctx, run.mi, p.decision, leaf, p.spec.secretName, requestedDuration);
  recordFindings(run.ctx, run.mi, p.decision, findings);
  run.policy = policyCondition(p.decision, findings, findings.remediable.length > 0);
  return findings.remediable.length > 0 ? formatViolations(findings.remediable, 'the current certificate violates') : undefined;
}

/** Nothing to issue: adopt what the Secret holds (also after a crash between the Secret and status writes), repair drift, schedule. */
async function maintain(run: Run, p: Ready, renewal: Date): Promise<ReconcileResult> {
  const { ctx, mi } = run;
  const rec = readRecord(p.secret);
  const leaf = p.view!.leaf!;
  const revision = Math.max(rec.revision ?? 0, (mi.status?.revision as number | undefined) ?? 0);
  await repairMetadata(ctx, mi, p.spec, p.authority, p.secret!, p.view!, revision, rec, run.log, p.entry.trustBundlePem);
  await run.write({ ready: readyTrue(leaf.notAfter), cert: certStatus(leaf, rec.authorityFingerprint ?? '', renewal, revision), failures: { count: 0 } });
  if (await cleanupNextKeys(ctx, run.nextKeys, mi)) run.log.debug('removed stored next keys');
  const now = ctx.now().getTime();
  const requested = Date.parse(mi.metadata?.annotations?.[RENEW_REQUESTED_AT] ?? '');
  const wakeAt = requested > now ? Math.min(requested, renewal.getTime()) : renewal.getTime();
  return { requeueAfterMs: Math.min(RESYNC_MS, Math.max(1000, wakeAt - now + 1000)) };
}

/**
 * A move to the authority's new CA waits until every trust bundle carries it plus the propagation delay;
 * meanwhile the Secret's ca.crt already follows the published bundle (old and new CA), so this workload
 * trusts peers that move first.
 */
async function holdForTrustBundles(run: Run, p: Ready, holdMs: number): Promise<ReconcileResult> {
  const rec = readRecord(p.secret);
  const revision = Math.max(rec.revision ?? 0, (run.mi.status?.revision as number | undefined) ?? 0);
  if (p.entry.trustBundlePem) await repairMetadata(run.ctx, run.mi, p.spec, rec.authority ?? p.authority, p.secret!, p.view!, revision, rec, run.log, p.entry.trustBundlePem);
  return { requeueAfterMs: holdMs };
}

/** ms to wait before issuing: failure backoff, and pacing of mass re-issuance after a CA change. */
function gate(mi: MachineIdentityModel, t: Trigger, pre: Pick<Ready, 'authority'>, pace: (authority: string) => number): number {
  const failures = (mi.status?.failedIssuanceAttempts as number | undefined) ?? 0;
  const last = Date.parse((mi.status?.lastFailureTime as string | undefined) ?? '');
  const wait = failures > 0 && !Number.isNaN(last) ? last + failureBackoffMs(failures) - Date.now() : 0;
  if (wait > 0) return wait;
  return AGILITY_REASONS.has(t.reason) ? pace(pre.authority) : 0;
}

/** The hold of a move to the same authority's new CA (not a move to another authority: its bundles are another binding's). */
function caHold(pre: Ready, t: Trigger | undefined): number {
  if (!t || !CA_CHANGE_REASONS.has(t.reason)) return 0;
  const recorded = readRecord(pre.secret).authority;
  if (recorded !== undefined && recorded !== pre.authority) return 0;
  return caChangeHoldMs(pre.entry.reissueNotBefore, Date.now());
}

/** How long a move to the authority's current CA still waits (0: go); never longer than a re-check. */
export function caChangeHoldMs(reissueNotBefore: number | undefined, now: number): number {
  if (reissueNotBefore === undefined || reissueNotBefore <= now) return 0;
  return Math.min(CA_HOLD_RECHECK_MS, reissueNotBefore - now + 50);
}

function nextRevision(mi: MachineIdentityModel, secret: k8s.V1Secret | undefined): number {
  return Math.max(readRecord(secret).revision ?? 0, (mi.status?.revision as number | undefined) ?? 0) + 1;
}

/** Status, Events and the next wake-up for an issuance outcome. */
async function record(run: Run, pre: Ready, t: Trigger, out: IssueOutcome, revision: number, currentNotAfter: Date | undefined): Promise<ReconcileResult> {
  const { ctx, mi } = run;
  const now = ctx.now();
  const ready = t.stillValid && currentNotAfter ? readyTrue(currentNotAfter) : { type: 'Ready', status: 'False' as const, reason: t.reason, message: t.message };
  if (out.kind === 'issued') {
    // the cache and the parse pool need not see what we just wrote: its projection, and its facts known from issuance
    run.written.remember(projectSecret(out.written));
    primeView(out.written, { hasData: true, leaf: out.leaf, keyMatches: true });
    checkCertificate(run, pre, out.leaf, pre.spec.duration);
    await run.write({ ready: readyTrue(out.notAfter), cert: out.cert, failures: { count: 0 }, pendingRequest: null });
    crashPoint('after-status-write');
    const verb = revision > 1 ? 'renewed' : 'issued';
    run.event('Normal', revision > 1 ? Reason.Renewed : Reason.Issued, `${verb} revision ${revision}, serial ${out.cert.serialNumber}, valid until ${out.cert.notAfter} (${t.reason})`);
    if (revision > 1 && out.keyRotated) run.event('Normal', Reason.KeyRotated, `new private key for revision ${revision}`);
    await cleanupNextKeys(ctx, run.nextKeys, mi);
    return { requeueAfterMs: Math.min(RESYNC_MS, Math.max(1000, out.renewal.getTime() - now.getTime() + 1000)) };
  }
  if (out.kind === 'pending') {
    await run.write({ ready, issuing: { type: 'Issuing', status: 'True', reason: Reason.Pending, message: out.message }, pendingRequest: out.pendingRequest ?? null });
    crashPoint('after-pending-status');
    return { requeueAfterMs: out.retryAfterMs };
  }
  const count = ((mi.status?.failedIssuanceAttempts as number | undefined) ?? 0) + 1;
  const reason = out.kind === 'denied' ? Reason.Denied : Reason.Failed;
  const change: StatusChange = {
    ready: t.stillValid ? ready : { type: 'Ready', status: 'False', reason, message: out.message },
    issuing: { type: 'Issuing', status: 'False', reason, message: `${out.reason}: ${out.message}; retrying in ${Math.round(failureBackoffMs(count) / 1000)}s` },
    failures: { count, lastFailureTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z') },
    // a refusal ends the request; a failure (CA unreachable) keeps it to resume
    ...(out.kind === 'denied' ? { pendingRequest: null } : {}),
  };
  await run.write(change);
  run.event('Warning', reason, `${out.reason}: ${out.message}`);
  return { requeueAfterMs: Math.max(out.kind === 'failed' ? (out.retryAfterMs ?? 0) : 0, failureBackoffMs(count)) };
}

function readyTrue(notAfter: Date): { type: string; status: 'True'; reason: string; message: string } {
  return { type: 'Ready', status: 'True', reason: Reason.Ready, message: `the certificate is up to date and valid until ${notAfter.toISOString()}` };
}

/** What the certificate must match, from the spec as written: an unset key size or duration matches any (policy resolves them). */
export function desiredIdentity(spec: ResolvedMachineIdentitySpec, authority: string): DesiredIdentity {
  const pk = spec.privateKey;
  const size = pk.algorithm === 'Ed25519' ? undefined : pk.size;
  return { commonName: spec.subject?.commonName, dnsNames: spec.dnsNames ?? [], ipAddresses: spec.ipAddresses ?? [], uris: spec.uris ?? [],
    emailAddresses: spec.emailAddresses ?? [], isCA: spec.isCA, keyAlgorithm: pk.algorithm, keySize: size, authority, duration: spec.duration };
}

export async function readSecret(ctx: OperatorContext, namespace: string, name: string): Promise<k8s.V1Secret | undefined> {
  // resourceVersion=0: served from the apiserver's watch cache, not a quorum read from etcd. The window in
  // which a just-created foreign Secret could be missed is the same race a quorum read has (create between
  // this read and our apply), only milliseconds wider.
  return getJsonOrNotFound<k8s.V1Secret>(ctx.kc, `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`, { resourceVersion: '0' });
}
