// Putting a challenge answer up, and how to take it down: HTTP-01 from the operator's own listener
// (optionally routed to it by a temporary Ingress or HTTPRoute), DNS-01 as a TXT record written
// with an RFC 2136 update.
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { AcmeClient } from './client.ts';
import type { Authorization, Challenge } from './protocol.ts';
import type { Presented } from './attempt.ts';
import { dns01RecordName, type SolverSpec } from './solvers.ts';
import { addTxt, deleteTxt, findZone, type Rfc2136Target } from './rfc2136.ts';
import type { Http01Responder } from './http01.ts';
import { challengeHTTPRoute, challengeIngress, routeChallenge, RoutingError, type IngressRouting } from './ingress.ts';

/** What presenting needs from the issuer's options. */
export interface ChallengeSetup {
  responder: Http01Responder;
  solvers?: SolverSpec[];
  dnsTargets?: ReadonlyMap<number, Rfc2136Target>;
  kc?: k8s.KubeConfig;
  ingress?: Omit<IngressRouting, 'kc'>;
}

export async function present(
  s: ChallengeSetup,
  c: AcmeClient,
  ch: Challenge,
  type: 'http-01' | 'dns-01',
  authz: Authorization,
  solverIndex: number,
): Promise<Presented> {
  const keyAuth = await c.keyAuthorization(ch.token);
  if (type === 'http-01') {
    if (!s.responder.listening)
      throw new RoutingError(
        "HTTP-01 needs the operator's challenge listener, which is off (MIO_ACME_HTTP01_ADDR / the chart's acme.http01.enabled)",
      );
    s.responder.present(ch.token, keyAuth);
    const unroute = await route(s, s.solvers?.[solverIndex]?.http01, authz, ch.token);
    return {
      cleanup: async () => {
        s.responder.remove(ch.token);
        await unroute?.();
      },
    };
  }
  const target = s.dnsTargets?.get(solverIndex);
  if (!target) throw new Error(`the dns01 solver #${solverIndex} has no usable rfc2136 settings`);
  const record = dns01RecordName(authz.identifier.value);
  const value = createHash('sha256').update(keyAuth).digest('base64url');
  const zone = await findZone(target, record);
  await addTxt(target, zone, record, value);
  return {
    cleanup: () => deleteTxt(target, zone, record, value),
    dns: { solver: solverIndex, zone, name: record, value },
  };
}

/** An Ingress or HTTPRoute to this replica, when the solver asks for one (both route by host name: IP identifiers need another way in). */
async function route(
  s: ChallengeSetup,
  http01: SolverSpec['http01'],
  authz: Authorization,
  token: string,
): Promise<(() => Promise<void>) | undefined> {
  if (!http01?.ingress && !http01?.gatewayHTTPRoute) return undefined;
  if (authz.identifier.type !== 'dns') return undefined;
  if (!s.kc || !s.ingress)
    throw new RoutingError(
      "HTTP-01 through an Ingress or HTTPRoute needs the operator's HTTP-01 listener and its Service (MIO_ACME_HTTP01_ADDR, MIO_ACME_HTTP01_SERVICE)",
    );
  const r = { kc: s.kc, ...s.ingress };
  const host = authz.identifier.value;
  return http01.gatewayHTTPRoute
    ? routeChallenge(r, challengeHTTPRoute(r, host, token, http01.gatewayHTTPRoute.parentRefs), 'httproutes')
    : routeChallenge(r, challengeIngress(r, host, token, http01.ingress?.ingressClassName), 'ingresses');
}
