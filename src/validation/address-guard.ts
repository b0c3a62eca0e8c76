// Which EndpointSlice addresses the prober may dial. Anyone who can write an EndpointSlice in their
// namespace can put any address in it (the cloud metadata service, the API server, another tenant's
// pod), so an address is dialled only when the kubelet vouches for it: it is the status IP of a Pod in
// the slice's namespace that the endpoint's targetRef names. The only other way in is a CIDR a cluster
// admin allowed (config.validation.allowedCidrs). Loopback, link-local, unspecified and multicast
// addresses are refused even for a Pod, unless an allowed CIDR inside those blocks names them.
import { compileCidr, ipInCidr, parseIp, type Cidr, type IpValue } from '../policy/ip-ranges.ts';
import type { PodRefs } from '../inventory/model.ts';

/** Pods by `namespace/name`. */
export type PodIndex = ReadonlyMap<string, PodRefs>;

export function podIndex(pods: readonly PodRefs[]): Map<string, PodRefs> {
  return new Map(pods.map((p) => [`${p.metadata.namespace ?? ''}/${p.metadata.name}`, p]));
}

export type DialDecision =
  | { ok: true; pod?: PodRefs; reason: 'pod' | 'allowed_cidr' }
  | {
      ok: false;
      reason: 'not_an_ip' | 'special_address' | 'no_target_ref' | 'pod_unknown' | 'not_the_pod_ip';
      message: string;
    };

/** Never dialled unless an allowed CIDR at least as narrow as the block names the address. */
const SPECIAL = [
  '0.0.0.0/8', // "this network", unspecified
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local (cloud metadata services live here)
  '224.0.0.0/4', // multicast
  '255.255.255.255/32', // broadcast
  '::/128', // unspecified
  '::1/128', // loopback
  'fe80::/10', // link-local
  'ff00::/8', // multicast
].map(compileCidr);

export interface TargetRef {
  kind: string;
  name: string;
  namespace?: string;
}

/** Allowed CIDRs compiled once per target build; invalid entries never match. */
export function compileAllowed(cidrs: readonly string[]): Cidr[] {
  return cidrs.map(compileCidr).filter((c) => c.valid);
}

const sameIp = (a: IpValue, s: string): boolean => {
  const b = parseIp(s);
  return b !== undefined && b.family === a.family && b.value === a.value;
};

/** An allowed CIDR that lets `ip` through: for a special address, only one inside that special block. */
function allowedBy(ip: IpValue, allowed: readonly Cidr[], special: Cidr | undefined): boolean {
  return allowed.some(
    (c) => ipInCidr(ip, c) && (!special || (c.family === special.family && c.prefix >= special.prefix)),
  );
}

function podBehind(
  ip: IpValue,
  address: string,
  namespace: string,
  targetRef: TargetRef | undefined,
  pods: PodIndex,
): DialDecision {
  if (targetRef?.kind !== 'Pod' || (targetRef.namespace !== undefined && targetRef.namespace !== namespace))
    return { ok: false, reason: 'no_target_ref', message: `${address} names no Pod of namespace ${namespace}` };
  const pod = pods.get(`${namespace}/${targetRef.name}`);
  if (!pod) return { ok: false, reason: 'pod_unknown', message: `Pod ${namespace}/${targetRef.name} is not known` };
  if (!pod.ips.some((s) => sameIp(ip, s)))
    return {
      ok: false,
      reason: 'not_the_pod_ip',
      message: `${address} is not an IP of Pod ${namespace}/${targetRef.name}`,
    };
  return { ok: true, pod, reason: 'pod' };
}

/**
 * May the prober dial `address`, found in an EndpointSlice of `endpointNamespace` whose endpoint names
 * `targetRef`? Pure and total: no input throws.
 */
export function mayDial(
  address: string,
  endpointNamespace: string,
  targetRef: TargetRef | undefined,
  pods: PodIndex,
  allowedCidrs: readonly (string | Cidr)[],
): DialDecision {
  const ip = parseIp(address);
  if (!ip) return { ok: false, reason: 'not_an_ip', message: `${JSON.stringify(address.slice(0, 64))} is not an IP` };
  const allowed = allowedCidrs.map((c) => (typeof c === 'string' ? compileCidr(c) : c));
  const special = SPECIAL.find((c) => ipInCidr(ip, c));
  const viaPod = podBehind(ip, address, endpointNamespace, targetRef, pods);
  if (allowedBy(ip, allowed, special))
    return { ok: true, ...(viaPod.ok ? { pod: viaPod.pod } : {}), reason: 'allowed_cidr' };
  if (special)
    return { ok: false, reason: 'special_address', message: `${address} is in ${special.source}: never dialled` };
  return viaPod;
}
