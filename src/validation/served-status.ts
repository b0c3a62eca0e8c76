// The part of a MachineIdentity's status the validation controller owns (server-side apply, field
// manager mio-validation): the Served condition and status.served. Written only when what it says
// changes, or to answer `kubectl mi validate` (lastProbeTime newer than the request), so an hourly probe
// that finds the same thing writes nothing.
import type * as k8s from '@kubernetes/client-node';
import type { MachineIdentityModel, MachineIdentityStatus } from '../crds/index.ts';
import { applyStatus, isNotFound } from '../runtime/kube.ts';
import { setCondition, getCondition } from '../controllers/status/conditions.ts';
import { IDENTITY_GVR, type OperatorContext } from '../controllers/context.ts';
import type { EndpointResult, ServedCondition } from './verdict.ts';

const VALIDATION_FIELD_MANAGER = 'mio-validation';
const MAX_ENDPOINTS = 32;

type Served = NonNullable<MachineIdentityStatus['served']>;
type ServedEndpoint = NonNullable<Served['endpoints']>[number];

const sec = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The endpoint list: those not Current first, at most 32. */
function servedEndpoints(results: readonly EndpointResult[]): ServedEndpoint[] {
  const rank = (r: EndpointResult): number => (r.outcome.verdict === 'Current' ? 1 : 0);
  return [...results]
    .sort((a, b) => rank(a) - rank(b))
    .slice(0, MAX_ENDPOINTS)
    .map((r) => {
      const t = r.target;
      const e: ServedEndpoint = {
        source: t.source,
        object: `${t.namespace ? `${t.namespace}/` : ''}${t.name}`,
        address: r.address.ip,
        port: r.address.port,
        verdict: r.outcome.verdict,
      };
      if (t.sni) e.sni = t.sni;
      if (r.probe?.ok) e.servedSerialNumber = r.probe.leaf.serialNumber;
      if (r.outcome.message) e.message = r.outcome.message.slice(0, 1024);
      return e;
    });
}

/** What decides whether a write is needed: the condition and each endpoint's verdict and serial. */
function signature(cond: { status: string; reason: string; message: string } | undefined, eps: unknown): string {
  return JSON.stringify([cond?.status, cond?.reason, cond?.message, eps ?? []]);
}

export interface ServedWrite {
  condition: ServedCondition;
  results: readonly EndpointResult[];
  /** When the results were probed (epoch ms); undefined when nothing was probed (no endpoints). */
  probedAtMs?: number;
  /** A `kubectl mi validate` request is waiting for this probe. */
  answerRequest: boolean;
}

/** The status body to apply, or undefined when the identity already says this. */
export function servedStatusChange(
  mi: MachineIdentityModel,
  w: ServedWrite,
  now: Date,
): MachineIdentityStatus | undefined {
  const cur = mi.status;
  const endpoints = servedEndpoints(w.results);
  const same =
    signature(getCondition(cur?.conditions, 'Served'), cur?.served?.endpoints) === signature(w.condition, endpoints);
  if (same && !w.answerRequest) return undefined;
  const gen = mi.metadata.generation;
  const conditions = setCondition(cur?.conditions, w.condition, gen, now).filter((c) => c.type === 'Served');
  const served: Served = { endpointCount: w.results.length, endpoints };
  const probed = w.probedAtMs ?? cur?.served?.lastProbeTime;
  if (typeof probed === 'number') served.lastProbeTime = sec(probed);
  else if (probed) served.lastProbeTime = probed;
  return { conditions, served };
}

/** Applies the Served condition and status.served; false when the identity is gone. */
export async function applyServedStatus(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  status: MachineIdentityStatus,
): Promise<boolean> {
  try {
    const body: k8s.KubernetesObject & { status: MachineIdentityStatus } = {
      apiVersion: 'machineidentity.io/v1alpha1',
      kind: 'MachineIdentity',
      metadata: { name: mi.metadata.name, namespace: mi.metadata.namespace },
      status,
    };
    await applyStatus(ctx.kc, IDENTITY_GVR, body, VALIDATION_FIELD_MANAGER);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw new Error('apply MachineIdentity Served status failed', { cause: e });
  }
}
