// Reconciler: the CertificateSigningRequest signer for `machineidentity.io/<binding>` (bindings with
// signer.certificateSigningRequests). Places the requester in a namespace (a ServiceAccount's own, or
// the one the binding lists a node or user under; anyone else is denied), which the binding's
// namespaceSelector must select; then approves or denies by the IssuancePolicies of that namespace
// (the operator holds `approve` for its own signer names only), then signs approved requests,
// honouring expirationSeconds. The boundaries are checked again before signing, so a request a person
// approved outside them fails instead of being signed.
import type * as k8s from '@kubernetes/client-node';
import { Controller } from '../../runtime/reconcile-loop.ts';
import { Informer } from '../../runtime/informer.ts';
import { sendRaw } from '../../runtime/kube.ts';
import type { OperatorContext } from '../context.ts';
import { denialMessage, evaluate } from '../../policy/evaluate.ts';
import { condition, observeAnswer, signerBinding, signerMetrics } from './common.ts';
import { csrDurationMs, csrIdentityRequest, type CsrSpecLike } from './csr.ts';
import { CsrRequesterFields, csrRequesterScope, namespaceRefusal, ownershipRefusal } from './boundaries.ts';
import { lifetimeCapMs, type BindingForOwnership } from '../../policy/ownership.ts';
import type { Refusal } from './pod-certificate.ts';
import { SignerReason } from '../../crds/reasons.ts';
import type { ValidBindingModel } from '../../crds/index.ts';

const KIND = 'CertificateSigningRequest';
type Csr = k8s.KubernetesObject & {
  spec?: CsrSpecLike;
  status?: { conditions?: { type: string; status: string }[]; certificate?: string };
};

export function csrInformer(ctx: Pick<OperatorContext, 'kc' | 'registry' | 'log'>): Informer<Csr> {
  return new Informer<Csr>({
    kc: ctx.kc,
    path: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
    registry: ctx.registry,
    logger: ctx.log,
    resource: 'certificatesigningrequests',
  });
}

/** Where a CSR's requester stands: its namespace (selected by the binding) and that namespace's labels. */
interface Scope {
  ok: true;
  namespace: string;
  requester: string;
  labels: Record<string, string>;
}

const has = (c: Csr, type: string): boolean =>
  (c.status?.conditions ?? []).some((x) => x.type === type && x.status === 'True');
/** Denied, Failed or signed: nothing more to do. */
const settled = (c: Csr): boolean => has(c, 'Denied') || has(c, 'Failed') || Boolean(c.status?.certificate);

export function csrController(ctx: OperatorContext, csrs: Informer<Csr>): Controller {
  const m = signerMetrics(ctx.registry);
  const c = new Controller({
    name: 'csr-signer',
    logger: ctx.log,
    registry: ctx.registry,
    workers: 4,
    informers: [csrs, ctx.informers.bindings, ctx.informers.namespaces, ctx.policies.informer],
    reconcile: async (name) => {
      const csr = csrs.get(name);
      if (!csr?.spec || settled(csr)) return undefined;
      const binding = signerBinding(ctx, csr.spec.signerName, KIND);
      if (!binding) return undefined;
      return answer(name, csr, csr.spec, binding);
    },
  });

  /** Approves or denies a new request; signs (or fails) an approved one. */
  async function answer(
    name: string,
    csr: Csr,
    spec: CsrSpecLike,
    binding: ValidBindingModel,
  ): Promise<{ requeueAfterMs: number } | undefined> {
    const bindingName = binding.metadata.name;
    const scope = requesterScope(spec, binding);
    const durationMs = csrDurationMs(spec.expirationSeconds, lifetimeCapMs(binding.spec));
    const req = csrIdentityRequest(
      name,
      csr.metadata?.labels ?? {},
      spec,
      bindingName,
      durationMs,
      scope.ok ? scope.namespace : '',
    );
    const started = performance.now();
    const refusal = boundaryRefusal(scope, req, { name: bindingName, spec: binding.spec });
    if (!has(csr, 'Approved')) return approveOrDeny(name, csr, refusal ?? scope, req, bindingName);
    return sign(name, csr, refusal ?? scope, req, bindingName, durationMs, started);
  }

  /** Why the request is outside the binding's boundaries: the requester's scope, then the names its namespace may hold. */
  function boundaryRefusal(
    scope: Scope | Refusal,
    req: ReturnType<typeof csrIdentityRequest>,
    binding: BindingForOwnership,
  ): Refusal | undefined {
    if (!scope.ok) return scope;
    if (!req.ok) return undefined; // an invalid CSR is denied (or fails) as such
    return ownershipRefusal(req.request, binding, {
      namespace: scope.namespace,
      namespaceLabels: scope.labels,
      clusterDomain: ctx.config.clusterDomain,
    });
  }

  /** The requester's namespace and its labels, or why the binding does not serve this requester. */
  function requesterScope(spec: CsrSpecLike, binding: ValidBindingModel): Scope | Refusal {
    const bindingName = binding.metadata.name;
    // spec.username and spec.groups are written by the API server on create from the authenticated user
    const scope = csrRequesterScope(
      CsrRequesterFields.parse(spec),
      binding.spec.signer?.csrRequesters ?? [],
      bindingName,
    );
    if (!scope.ok) return scope;
    // a namespace missing from the cache (a listed one that does not exist) has no labels: only an empty selector serves it
    const labels = ctx.informers.namespaces.get(scope.namespace)?.metadata?.labels ?? undefined;
    const refusal = namespaceRefusal(
      { name: bindingName, namespaceSelector: binding.spec.namespaceSelector },
      scope.namespace,
      labels,
      'CertificateSigningRequests',
    );
    return refusal ?? { ok: true, namespace: scope.namespace, requester: scope.requester, labels: labels ?? {} };
  }

  /** Signs an approved request (approved by policy here, or by a person) and writes the certificate, or Failed. */
  async function sign(
    name: string,
    csr: Csr,
    scope: Scope | Refusal,
    req: ReturnType<typeof csrIdentityRequest>,
    bindingName: string,
    durationMs: number,
    started: number,
  ): Promise<{ requeueAfterMs: number } | undefined> {
    const failed = async (reason: string, message: string): Promise<{ requeueAfterMs: number } | undefined> =>
      finish(
        csr,
        await update(name, csr, 'status', {
          ...csr.status,
          conditions: [...(csr.status?.conditions ?? []), condition('Failed', reason, message, ctx.now())],
        }),
        'failed',
        started,
      );
    // approval (ours or a person's) does not widen the boundaries
    if (!scope.ok) return failed(scope.reason, `approved, but outside the signer's boundaries: ${scope.message}`);
    if (!req.ok) return failed(req.reason, req.message);
    const entry = ctx.issuers.get(bindingName);
    if (!entry?.health.ready) return { requeueAfterMs: 2000 };
    const uid = csr.metadata?.uid ?? name;
    const r = await entry.issuer.sign({
      csrPem: req.csrPem,
      requestId: uid,
      identity: { namespace: scope.namespace, name, uid },
      durationMs,
      isCA: false,
      usages: req.usages,
    });
    if (r.status === 'pending') return { requeueAfterMs: r.retryAfterMs };
    if (r.status !== 'issued') return failed(r.reason, r.message);
    const chain = [r.certificatePem, ...r.chainPem].join('');
    return finish(
      csr,
      await update(name, csr, 'status', { ...csr.status, certificate: Buffer.from(chain).toString('base64') }),
      'issued',
      started,
    );
  }

  async function approveOrDeny(
    name: string,
    csr: Csr,
    scope: Scope | Refusal,
    req: ReturnType<typeof csrIdentityRequest>,
    bindingName: string,
  ): Promise<{ requeueAfterMs: number } | undefined> {
    const cond = approval(scope, req, bindingName, ctx.now());
    const r = await update(name, csr, 'approval', {
      ...csr.status,
      conditions: [...(csr.status?.conditions ?? []), cond],
    });
    if (r === 'conflict') return { requeueAfterMs: 100 };
    if (r === 'ok' && cond.type === 'Denied')
      m.requests.inc({ signer: csr.spec?.signerName, kind: KIND, result: 'denied' });
    return undefined;
  }

  /** Approved when inside the boundaries and IssuancePolicy allows it; Denied with the first reason otherwise. */
  function approval(
    scope: Scope | Refusal,
    req: ReturnType<typeof csrIdentityRequest>,
    bindingName: string,
    now: Date,
  ): ReturnType<typeof condition> {
    if (!scope.ok) return condition('Denied', scope.reason, scope.message, now);
    if (!req.ok) return condition('Denied', req.reason, req.message, now);
    const verdict = evaluate(req.request, ctx.policies.compiled(), {
      namespaceLabels: scope.labels,
      defaultAction: ctx.config.policyDefaultAction,
    });
    if (!verdict.allowed) return condition('Denied', SignerReason.PolicyDenied, denialMessage(verdict), now);
    const why = verdict.matchedPolicies.length
      ? `complies with IssuancePolicy ${verdict.matchedPolicies.join(', ')}`
      : `no IssuancePolicy selects it and policy.defaultAction is ${ctx.config.policyDefaultAction}`;
    return condition(
      'Approved',
      SignerReason.PolicyAllowed,
      `approved by machine-identity-operator for ${bindingName}, requester ${scope.requester} in namespace ${scope.namespace}: ${why}`,
      now,
    );
  }

  function finish(
    csr: Csr,
    r: 'ok' | 'conflict' | 'gone',
    result: string,
    started: number,
  ): { requeueAfterMs: number } | undefined {
    if (r === 'conflict') return { requeueAfterMs: 100 };
    if (r !== 'ok') return undefined;
    observeAnswer(
      m,
      { signer: csr.spec?.signerName ?? '', kind: KIND },
      result,
      started,
      csr.metadata?.creationTimestamp,
    );
    return undefined;
  }

  async function update(
    name: string,
    csr: Csr,
    sub: 'status' | 'approval',
    status: object,
  ): Promise<'ok' | 'conflict' | 'gone'> {
    const res = await sendRaw(
      ctx.kc,
      'PUT',
      `/apis/certificates.k8s.io/v1/certificatesigningrequests/${encodeURIComponent(name)}/${sub}`,
      JSON.stringify({ ...csr, status }),
      'application/json',
    );
    if (res.status >= 200 && res.status < 300) return 'ok';
    if (res.status === 409) return 'conflict';
    if (res.status === 404) return 'gone';
    throw new Error(`CertificateSigningRequest ${sub} update: HTTP ${res.status}: ${res.text.slice(0, 500)}`);
  }

  const enqueue = (x: Csr): void => {
    if (x.metadata?.name) c.queue.add(x.metadata.name);
  };
  csrs.onAdd(enqueue).onUpdate((_o, x) => enqueue(x));
  ctx.issuers.onChange(() => {
    for (const x of csrs.list()) if (!x.status?.certificate) enqueue(x);
  });
  return c;
}
