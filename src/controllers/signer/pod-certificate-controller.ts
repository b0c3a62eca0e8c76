// Reconciler: the PodCertificateRequest signer. For a binding with signer.podCertificates, answers every
// PodCertificateRequest for `machineidentity.io/<binding>` in one status update: Issued (a SPIFFE
// certificate for the requested key), Denied (annotations, a namespace the binding does not select, a
// request that does not match its pod, key type, IssuancePolicy of the pod's namespace) or Failed.
// The certificate carries only what the API server vouches for: the request's namespace and the
// ServiceAccount of the pod (checked against the pod), never podName or unverifiedUserAnnotations.
import type * as k8s from '@kubernetes/client-node';
import { Controller } from '../../runtime/reconcile-loop.ts';
import { recordEvent } from '../events.ts';
import type { OperatorContext } from '../context.ts';
import { denialMessage, evaluate } from '../../policy/evaluate.ts';
import {
  annotationsRefusal,
  keyFields,
  keyFieldsRefusal,
  podIdentityRequest,
  spiffeId,
  validity,
  type PcrSpec,
  type RequestKey,
  type Validity,
} from './pod-certificate.ts';
import { observeAnswer, signerBinding, signerMetrics } from './common.ts';
import { isoSeconds } from '../../issuers/in-cluster-ca.ts';
import { readPod, refOf, terminal, writePcrStatus, type Answer, type Pcr } from './pod-certificate-api.ts';
import { namespaceRefusal, ownershipRefusal, podMismatch } from './boundaries.ts';
import { lifetimeCapMs, trustDomainOf } from '../../policy/ownership.ts';
import { SignerReason } from '../../crds/reasons.ts';
import { certificatesApi, type CertificatesVersion } from './certificates-api.ts';
import { PodCertificateRequests } from './pod-certificate-requests.ts';
import { reportServed } from './served-report.ts';

const KIND = 'PodCertificateRequest';
/** kube-controller-manager deletes requests after 15 minutes: an authority still not ready after 10 gives up with Failed. */
const GIVE_UP_MS = 10 * 60_000;

type BindingSpec = NonNullable<ReturnType<typeof signerBinding>>['spec'];
type IssuerEntry = NonNullable<ReturnType<OperatorContext['issuers']['get']>>;

/**
 * The PodCertificateRequests to answer, at the version the API server serves (v1 on 1.37, v1beta1 on
 * 1.35/1.36 with the gate), or undefined when it serves neither: logged once and reported by
 * machine_identity_signer_api_info{resource="podcertificaterequests",version="none"}.
 */
export async function podCertificateRequests(
  ctx: Pick<OperatorContext, 'kc' | 'registry' | 'log'>,
): Promise<PodCertificateRequests | undefined> {
  const version = await certificatesApi(ctx.kc)
    .version('podcertificaterequests')
    .catch((err: unknown) => {
      ctx.log.warn({ err }, 'certificates.k8s.io discovery failed');
      return undefined;
    });
  reportServed(ctx, 'podcertificaterequests', version);
  return version ? new PodCertificateRequests(ctx, version) : undefined;
}

export function podCertificateController(ctx: OperatorContext, pcrs: PodCertificateRequests): Controller {
  const m = signerMetrics(ctx.registry);
  const c = new Controller({
    // requests arrive in bursts (a Deployment scaling up) and every step waits on the API server: many workers
    name: 'pod-certificate-signer',
    logger: ctx.log,
    registry: ctx.registry,
    workers: Math.max(8, ctx.config.workers * 2),
    informers: [pcrs, ctx.informers.bindings, ctx.informers.namespaces, ctx.policies.informer],
    reconcile: async (key) => {
      const pcr = pcrs.get(key);
      if (!pcr?.spec || terminal(pcr)) return undefined;
      const binding = signerBinding(ctx, pcr.spec.signerName, KIND);
      if (!binding) return undefined; // not a signer this operator serves
      return answerRequest(pcr, pcr.spec, binding.metadata.name, binding.spec);
    },
  });

  /** Decides, writes the answer, counts it; a Warning Event for a request not issued. */
  async function answerRequest(
    pcr: Pcr,
    spec: PcrSpec,
    bindingName: string,
    bspec: BindingSpec,
  ): Promise<{ requeueAfterMs: number } | undefined> {
    const started = performance.now();
    const answer = await decide(pcr, spec, bindingName, bspec);
    if (!answer) return { requeueAfterMs: 2000 };
    const version = pcrs.version;
    const wrote = await writePcrStatus(ctx, version, pcr, answer);
    if (wrote === 'conflict') return { requeueAfterMs: 100 };
    // deleted, or (after an upgrade) a version no longer served: discovery tells which
    if (wrote === 'gone') pcrs.notFound();
    if (wrote !== 'ok') return undefined;
    observeAnswer(
      m,
      { signer: spec.signerName, kind: KIND },
      answer.kind.toLowerCase(),
      started,
      pcr.metadata?.creationTimestamp,
    );
    if (answer.kind !== 'Issued') {
      void recordEvent(
        ctx,
        { apiVersion: apiVersionOf(version), kind: KIND, ...refOf(pcr), uid: pcr.metadata?.uid },
        'Warning',
        answer.reason,
        `${answer.kind} for pod ${spec.podName}: ${answer.message}`,
      );
    }
    return undefined;
  }

  /** The answer, or undefined to try again shortly (the authority or the namespace cache is not ready yet). */
  async function decide(pcr: Pcr, spec: PcrSpec, bindingName: string, bspec: BindingSpec): Promise<Answer | undefined> {
    const ns = refOf(pcr).namespace;
    const admitted = await admit(ns, spec, bindingName, bspec);
    if (!admitted || 'kind' in admitted) return admitted;
    const pod = await readPod(ctx.kc, ns, spec);
    const mismatch = podMismatch(ns, spec, pod);
    if (mismatch) return { kind: 'Denied', reason: mismatch.reason, message: mismatch.message };
    const entry = ctx.issuers.get(bindingName);
    if (!entry?.health.ready) return notReady(pcr, bindingName, entry);
    return decideFor(ns, spec, bindingName, bspec, { ...admitted, pod, entry });
  }

  /** A request that names its pod, for a Ready authority: the certificate's lifetime and name, the boundaries, IssuancePolicy, then signing. */
  async function decideFor(
    ns: string,
    spec: PcrSpec,
    bindingName: string,
    bspec: BindingSpec,
    admitted: { key: RequestKey; nsLabels: Record<string, string>; pod: k8s.V1Pod | undefined; entry: IssuerEntry },
  ): Promise<Answer> {
    const pod = admitted.pod;
    const entry = admitted.entry;
    const v = validity(ctx.now(), spec, bspec.signer?.maxPodCertificateDurationMs ?? 86_400_000, lifetimeCapMs(bspec));
    const uri = spiffeId(trustDomainOf(bspec), ns, spec.serviceAccountName);
    const request = podIdentityRequest({
      namespace: ns,
      spec,
      podLabels: pod?.metadata?.labels ?? {},
      authority: bindingName,
      uri,
      key: admitted.key,
      lifetimeMs: v.lifetimeMs,
    });
    // the SPIFFE ID is the namespace's own by construction; checked anyway, like every requester's names
    const notOwned = ownershipRefusal(
      request,
      { name: bindingName, spec: bspec },
      { namespace: ns, namespaceLabels: admitted.nsLabels, clusterDomain: ctx.config.clusterDomain },
    );
    if (notOwned) return { kind: 'Denied', reason: notOwned.reason, message: notOwned.message };
    const verdict = evaluate(request, ctx.policies.compiled(), {
      namespaceLabels: admitted.nsLabels,
      defaultAction: ctx.config.policyDefaultAction,
    });
    if (!verdict.allowed) return { kind: 'Denied', reason: SignerReason.PolicyDenied, message: denialMessage(verdict) };
    return issue(entry, bindingName, admitted.key, uri, v);
  }

  /** Wait for the authority, or give up before kube-controller-manager deletes the request. */
  function notReady(pcr: Pcr, bindingName: string, entry: IssuerEntry | undefined): Answer | undefined {
    const age = Date.now() - Date.parse(String(pcr.metadata?.creationTimestamp ?? ''));
    return age > GIVE_UP_MS
      ? {
          kind: 'Failed',
          reason: SignerReason.AuthorityNotReady,
          message: `CertificateAuthorityBinding ${bindingName} is not Ready: ${entry?.health.message ?? 'not loaded'}`,
        }
      : undefined;
  }

  /** Signs the request's key for the SPIFFE ID alone. */
  async function issue(
    entry: IssuerEntry,
    bindingName: string,
    key: RequestKey,
    uri: string,
    v: Validity,
  ): Promise<Answer> {
    if (!entry.issuer.signPublicKey) {
      return {
        kind: 'Failed',
        reason: SignerReason.BackendCannotSign,
        message: `the ${entry.issuer.backend} backend of ${bindingName} cannot sign a key it does not hold; use a ca binding for pod certificates`,
      };
    }
    const r = await entry.issuer.signPublicKey({
      spkiDer: key.spkiDer,
      publicKey: key.publicKey,
      uris: [uri],
      dnsNames: [],
      usages: ['digitalSignature', 'clientAuth', 'serverAuth'],
      notBefore: v.notBefore,
      notAfter: v.notAfter,
    });
    if (r.status !== 'issued')
      return { kind: 'Failed', reason: r.status === 'pending' ? SignerReason.Pending : r.reason, message: r.message };
    return {
      kind: 'Issued',
      chainPem: [r.certificatePem, ...r.chainPem].join(''),
      notBefore: v.notBefore,
      notAfter: v.notAfter,
      beginRefreshAt: v.beginRefreshAt,
      message: `issued ${uri} until ${isoSeconds(v.notAfter)}`,
    };
  }

  /**
   * The checks that need no API call: unverifiedUserAnnotations, the binding's namespaceSelector on
   * the request's namespace, the key (read in the parse pool). A denial, the key and the namespace's
   * labels, or undefined when the namespace is not in the cache yet (it exists: the request is in it).
   */
  async function admit(
    ns: string,
    spec: PcrSpec,
    bindingName: string,
    bspec: BindingSpec,
  ): Promise<Answer | { key: RequestKey; nsLabels: Record<string, string> } | undefined> {
    const refusal = annotationsRefusal(spec, spec.signerName);
    if (refusal) return { kind: 'Denied', reason: refusal.reason, message: refusal.message };
    const namespace = ctx.informers.namespaces.get(ns);
    if (!namespace) return undefined;
    const nsLabels = namespace.metadata?.labels ?? {};
    const outside = namespaceRefusal(
      { name: bindingName, namespaceSelector: bspec.namespaceSelector },
      ns,
      nsLabels,
      'PodCertificateRequests',
    );
    if (outside) return { kind: 'Denied', reason: outside.reason, message: outside.message };
    const fields = keyFields(spec);
    const key = keyFieldsRefusal(fields) ?? (await ctx.parser.podCertificateKey(fields));
    if (!key.ok) return { kind: 'Denied', reason: key.reason, message: key.message };
    return { key, nsLabels };
  }

  const apiVersionOf = (v: CertificatesVersion): string => `certificates.k8s.io/${v}`;
  const enqueue = (p: Pcr): void => c.queue.add(`${p.metadata?.namespace}/${p.metadata?.name}`);
  pcrs.onAdd(enqueue).onUpdate((_o, p) => enqueue(p));
  const pending = (): void => {
    for (const p of pcrs.list()) if (!terminal(p)) enqueue(p);
  };
  ctx.issuers.onChange(pending);
  ctx.informers.bindings.onAdd(pending).onUpdate(pending);
  return c;
}
