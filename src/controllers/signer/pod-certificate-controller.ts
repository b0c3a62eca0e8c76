// Reconciler: the PodCertificateRequest signer. For a binding with signer.podCertificates, answers every
// PodCertificateRequest for `machineidentity.io/<binding>` in one status update: Issued (a SPIFFE
// certificate for the requested key), Denied (annotations, a namespace the binding does not select, a
// request that does not match its pod, key type, IssuancePolicy of the pod's namespace) or Failed.
// The certificate carries only what the API server vouches for: the request's namespace and the
// ServiceAccount of the pod (checked against the pod), never podName or unverifiedUserAnnotations.
import type * as k8s from '@kubernetes/client-node';
import { Controller } from '../../runtime/reconcile-loop.ts';
import { Informer } from '../../runtime/informer.ts';
import { apiServes, getJsonOrNotFound, sendRaw } from '../../runtime/kube.ts';
import { recordEvent } from '../events.ts';
import type { OperatorContext } from '../context.ts';
import { denialMessage, evaluate } from '../../policy/evaluate.ts';
import { annotationsRefusal, podIdentityRequest, requestKey, spiffeId, validity, type PcrSpec, type RequestKey, type Validity } from './pod-certificate.ts';
import { condition, isoSeconds, signerBinding, signerMetrics } from './common.ts';
import { namespaceRefusal, ownershipRefusal, podMismatch } from './boundaries.ts';
import { lifetimeCapMs, trustDomainOf } from '../../policy/ownership.ts';
import { SignerReason } from '../../crds/reasons.ts';

export const PCR_PATH = '/apis/certificates.k8s.io/v1beta1/podcertificaterequests';
const KIND = 'PodCertificateRequest';
/** kube-controller-manager deletes requests after 15 minutes: an authority still not ready after 10 gives up with Failed. */
const GIVE_UP_MS = 10 * 60_000;

type BindingSpec = NonNullable<ReturnType<typeof signerBinding>>['spec'];
type IssuerEntry = NonNullable<ReturnType<OperatorContext['issuers']['get']>>;
interface Pcr extends k8s.KubernetesObject { spec?: PcrSpec; status?: { conditions?: { type: string; status: string }[] } }
type Answer =
  | { kind: 'Issued'; chainPem: string; notBefore: Date; notAfter: Date; beginRefreshAt: Date; message: string }
  | { kind: 'Denied' | 'Failed'; reason: string; message: string };

const terminal = (p: Pcr): boolean => (p.status?.conditions ?? []).some((c) => ['Issued', 'Denied', 'Failed'].includes(c.type) && c.status === 'True');

/** True when the API serves PodCertificateRequests (a beta API behind a feature gate in 1.35/1.36). */
export function podCertificatesServed(kc: k8s.KubeConfig): Promise<boolean> {
  return apiServes(kc, '/apis/certificates.k8s.io/v1beta1', 'podcertificaterequests');
}

export function podCertificateInformer(ctx: Pick<OperatorContext, 'kc' | 'registry' | 'log'>): Informer<Pcr> {
  return new Informer<Pcr>({ kc: ctx.kc, path: PCR_PATH, registry: ctx.registry, logger: ctx.log, resource: 'podcertificaterequests' });
}

export function podCertificateController(ctx: OperatorContext, pcrs: Informer<Pcr>): Controller {
  const m = signerMetrics(ctx.registry);
  const c = new Controller({
    // requests arrive in bursts (a Deployment scaling up) and every step waits on the API server: many workers
    name: 'pod-certificate-signer', logger: ctx.log, registry: ctx.registry, workers: Math.max(8, ctx.config.workers * 2),
    informers: [pcrs, ctx.informers.bindings, ctx.informers.namespaces, ctx.policies.informer],
    reconcile: async (key) => {
      const pcr = pcrs.get(key);
      if (!pcr?.spec || terminal(pcr)) return undefined;
      const signer = pcr.spec.signerName;
      const binding = signerBinding(ctx, signer, KIND);
      if (!binding) return undefined; // not a signer this operator serves
      const started = performance.now();
      const answer = await decide(pcr, binding.metadata?.name ?? '', binding.spec);
      if (!answer) return { requeueAfterMs: 2000 };
      const wrote = await writeStatus(pcr, answer);
      if (wrote === 'conflict') return { requeueAfterMs: 100 };
      if (wrote !== 'ok') return undefined;
      const result = answer.kind.toLowerCase();
      m.requests.inc({ signer, kind: KIND, result });
      m.signing.observe({ signer, kind: KIND }, (performance.now() - started) / 1000);
      const created = Date.parse(String(pcr.metadata?.creationTimestamp ?? ''));
      if (!Number.isNaN(created)) m.latency.observe({ signer, kind: KIND }, Math.max(0, Date.now() - created) / 1000);
      if (answer.kind !== 'Issued') {
        void recordEvent(ctx, { apiVersion: 'certificates.k8s.io/v1beta1', kind: KIND, name: pcr.metadata!.name!, namespace: pcr.metadata!.namespace!, uid: pcr.metadata!.uid },
          'Warning', answer.reason, `${answer.kind} for pod ${pcr.spec.podName}: ${answer.message}`);
      }
      return undefined;
    },
  });

  /** The answer, or undefined to try again shortly (the authority or the namespace cache is not ready yet). */
  async function decide(pcr: Pcr, bindingName: string, bspec: BindingSpec): Promise<Answer | undefined> {
    const spec = pcr.spec!;
    const ns = pcr.metadata!.namespace!;
    const admitted = admit(ns, spec, bindingName, bspec);
    if (!admitted || 'kind' in admitted) return admitted;
    const pod = await podOf(ns, spec);
    const mismatch = podMismatch(ns, spec, pod);
    if (mismatch) return { kind: 'Denied', reason: mismatch.reason, message: mismatch.message };
    const entry = ctx.issuers.get(bindingName);
    if (!entry?.health.ready) return notReady(pcr, bindingName, entry);
    const v = validity(ctx.now(), spec, bspec.signer?.maxPodCertificateDurationMs ?? 86_400_000, lifetimeCapMs(bspec));
    const uri = spiffeId(trustDomainOf(bspec), ns, spec.serviceAccountName);
    const request = podIdentityRequest({ namespace: ns, spec, podLabels: pod?.metadata?.labels ?? {}, authority: bindingName, uri, key: admitted.key, lifetimeMs: v.lifetimeMs });
    // the SPIFFE ID is the namespace's own by construction; checked anyway, like every requester's names
    const notOwned = ownershipRefusal(request, { name: bindingName, spec: bspec }, { namespace: ns, namespaceLabels: admitted.nsLabels, clusterDomain: ctx.config.clusterDomain });
    if (notOwned) return { kind: 'Denied', reason: notOwned.reason, message: notOwned.message };
    const verdict = evaluate(request, ctx.policies.compiled(), { namespaceLabels: admitted.nsLabels, defaultAction: ctx.config.policyDefaultAction });
    if (!verdict.allowed) return { kind: 'Denied', reason: SignerReason.PolicyDenied, message: denialMessage(verdict) };
    return issue(entry, bindingName, admitted.key, uri, v);
  }

  /** Wait for the authority, or give up before kube-controller-manager deletes the request. */
  function notReady(pcr: Pcr, bindingName: string, entry: IssuerEntry | undefined): Answer | undefined {
    const age = Date.now() - Date.parse(String(pcr.metadata?.creationTimestamp ?? ''));
    return age > GIVE_UP_MS ? { kind: 'Failed', reason: SignerReason.AuthorityNotReady, message: `CertificateAuthorityBinding ${bindingName} is not Ready: ${entry?.health.message ?? 'not loaded'}` } : undefined;
  }

  /** Signs the request's key for the SPIFFE ID alone. */
  async function issue(entry: IssuerEntry, bindingName: string, key: RequestKey, uri: string, v: Validity): Promise<Answer> {
    if (!entry.issuer.signPublicKey) {
      return { kind: 'Failed', reason: SignerReason.BackendCannotSign, message: `the ${entry.issuer.backend} backend of ${bindingName} cannot sign a key it does not hold; use a ca binding for pod certificates` };
    }
    const r = await entry.issuer.signPublicKey({ spkiDer: key.spkiDer, publicKey: key.publicKey, uris: [uri], dnsNames: [], usages: ['digitalSignature', 'clientAuth', 'serverAuth'], notBefore: v.notBefore, notAfter: v.notAfter });
    if (r.status !== 'issued') return { kind: 'Failed', reason: r.status === 'pending' ? SignerReason.Pending : r.reason, message: r.message };
    return { kind: 'Issued', chainPem: [r.certificatePem, ...r.chainPem].join(''), notBefore: v.notBefore, notAfter: v.notAfter, beginRefreshAt: v.beginRefreshAt,
      message: `issued ${uri} until ${isoSeconds(v.notAfter)}` };
  }

  /**
   * The checks that need no API call: unverifiedUserAnnotations, the binding's namespaceSelector on
   * the request's namespace, the key. A denial, the key and the namespace's labels, or undefined
   * when the namespace is not in the cache yet (it exists: the request is in it).
   */
  function admit(ns: string, spec: PcrSpec, bindingName: string, bspec: BindingSpec): Answer | { key: RequestKey; nsLabels: Record<string, string> } | undefined {
    const refusal = annotationsRefusal(spec, spec.signerName);
    if (refusal) return { kind: 'Denied', reason: refusal.reason, message: refusal.message };
    const namespace = ctx.informers.namespaces.get(ns);
    if (!namespace) return undefined;
    const nsLabels = namespace.metadata?.labels ?? {};
    const outside = namespaceRefusal({ name: bindingName, namespaceSelector: bspec.namespaceSelector }, ns, nsLabels, 'PodCertificateRequests');
    if (outside) return { kind: 'Denied', reason: outside.reason, message: outside.message };
    const key = requestKey(spec);
    if (!key.ok) return { kind: 'Denied', reason: key.reason, message: key.message };
    return { key, nsLabels };
  }

  /**
   * The pod the request names, read from the API server's watch cache (resourceVersion 0: no etcd
   * round trip per request); when that copy does not match (a pod recreated under the same name a
   * moment ago), once more from etcd before the request is denied.
   */
  async function podOf(ns: string, spec: PcrSpec): Promise<k8s.V1Pod | undefined> {
    const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(spec.podName)}`;
    const cached = await getJsonOrNotFound<k8s.V1Pod>(ctx.kc, path, { resourceVersion: '0' });
    if (!podMismatch(ns, spec, cached)) return cached;
    return getJsonOrNotFound<k8s.V1Pod>(ctx.kc, path, {});
  }

  /** One status update carrying the whole answer; the resourceVersion makes a second writer lose, not overwrite. */
  async function writeStatus(pcr: Pcr, a: Answer): Promise<'ok' | 'conflict' | 'gone' | 'rejected'> {
    const now = ctx.now();
    const status = a.kind === 'Issued'
      ? { conditions: [condition('Issued', 'Issued', a.message, now)], certificateChain: a.chainPem, notBefore: isoSeconds(a.notBefore), notAfter: isoSeconds(a.notAfter), beginRefreshAt: isoSeconds(a.beginRefreshAt) }
      : { conditions: [condition(a.kind, a.reason, a.message, now)] };
    const body = { ...pcr, status };
    const path = `/apis/certificates.k8s.io/v1beta1/namespaces/${encodeURIComponent(pcr.metadata!.namespace!)}/podcertificaterequests/${encodeURIComponent(pcr.metadata!.name!)}/status`;
    const res = await sendRaw(ctx.kc, 'PUT', path, JSON.stringify(body), 'application/json');
    if (res.status >= 200 && res.status < 300) return 'ok';
    if (res.status === 409) return 'conflict';
    if (res.status === 404) return 'gone';
    ctx.log.error({ namespace: pcr.metadata?.namespace, name: pcr.metadata?.name, status: res.status, body: res.text.slice(0, 1000) }, 'PodCertificateRequest status rejected');
    if (a.kind === 'Issued' && res.status === 422) {
      // the API server's validation is the last word: tell the kubelet instead of leaving it waiting
      const failed = await writeStatus(pcr, { kind: 'Failed', reason: SignerReason.InvalidCertificate, message: `the API server rejected the issued certificate: ${res.text.slice(0, 500)}` });
      return failed === 'ok' ? 'rejected' : failed;
    }
    throw new Error(`PodCertificateRequest status update: HTTP ${res.status}`);
  }

  pcrs.onAdd((p) => c.queue.add(`${p.metadata!.namespace}/${p.metadata!.name}`)).onUpdate((_o, p) => c.queue.add(`${p.metadata!.namespace}/${p.metadata!.name}`));
  const pending = (): void => { for (const p of pcrs.list()) if (!terminal(p)) c.queue.add(`${p.metadata!.namespace}/${p.metadata!.name}`); };
  ctx.issuers.onChange(pending);
  ctx.informers.bindings.onAdd(pending).onUpdate(pending);
  return c;
}
