// Which certificates.k8s.io version the API server serves for PodCertificateRequests and
// ClusterTrustBundles: v1 on Kubernetes 1.37 (GA), v1beta1 on 1.35/1.36 (feature gate plus
// --runtime-config=certificates.k8s.io/v1beta1=true), neither on older servers or with the gate off.
//
// When both are served (1.37 with v1beta1 still turned on, or mid-upgrade) v1 is used: both are views
// of the same stored objects, so either sees every request, but v1 is the one that stays (beta APIs
// are switched off by default and removed later), so choosing it now means no switch later.
//
// Discovery is asked once and cached per KubeConfig (one KubeConfig = one API server), like
// client-go's cached discovery; it is asked again when the answer is older than REDISCOVER_MS or a
// caller saw the chosen path answer 404 (refresh()): after an upgrade, say, that turned v1beta1 off.
import type * as k8s from '@kubernetes/client-node';
import { getJsonOrNotFound } from '../../runtime/kube.ts';

export type CertificatesVersion = 'v1' | 'v1beta1';
export type CertificatesResource = 'podcertificaterequests' | 'clustertrustbundles';
/** The version in use for each resource; absent = not served. */
export type ServedVersions = Partial<Record<CertificatesResource, CertificatesVersion>>;

const GROUP = '/apis/certificates.k8s.io';
/** Most preferred first (see the file comment). */
const PREFERENCE: readonly CertificatesVersion[] = ['v1', 'v1beta1'];
/** A cached answer older than this is asked again (5 minutes: two small GETs, nothing on a busy path). */
export const REDISCOVER_MS = 5 * 60_000;

/** The version to use for `resource`, given the resources each version lists; undefined = not served. */
export function chooseVersion(
  listed: Readonly<Partial<Record<CertificatesVersion, readonly string[]>>>,
  resource: CertificatesResource,
): CertificatesVersion | undefined {
  return PREFERENCE.find((v) => listed[v]?.includes(resource));
}

/** Both resources' versions from one discovery answer. */
export function servedVersions(
  listed: Readonly<Partial<Record<CertificatesVersion, readonly string[]>>>,
): ServedVersions {
  const out: ServedVersions = {};
  for (const r of ['podcertificaterequests', 'clustertrustbundles'] as const) {
    const v = chooseVersion(listed, r);
    if (v) out[r] = v;
  }
  return out;
}

/** The collection path of `resource` at `version`, optionally in a namespace. */
export function certificatesPath(
  version: CertificatesVersion,
  resource: CertificatesResource,
  namespace?: string,
): string {
  const ns = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  return `${GROUP}/${version}${ns}/${resource}`;
}

/** Resource names one version lists (subresources left out); [] when the version is not served. */
type Lister = (version: CertificatesVersion) => Promise<readonly string[]>;

export class CertificatesApi {
  private cached: { at: number; served: Promise<ServedVersions> } | undefined;
  private readonly list: Lister;
  private readonly now: () => number;

  constructor(list: Lister, now: () => number = Date.now) {
    this.list = list;
    this.now = now;
  }

  /** The cached answer, asked again when missing or older than REDISCOVER_MS. A failed discovery is not cached. */
  served(): Promise<ServedVersions> {
    if (this.cached && this.now() - this.cached.at < REDISCOVER_MS) return this.cached.served;
    return this.refresh();
  }

  /** Asks the API server again (a path that answered 404, or a periodic check). */
  refresh(): Promise<ServedVersions> {
    const served = this.discover();
    const entry = { at: this.now(), served };
    this.cached = entry;
    served.catch(() => {
      if (this.cached === entry) this.cached = undefined;
    });
    return served;
  }

  async version(resource: CertificatesResource): Promise<CertificatesVersion | undefined> {
    return (await this.served())[resource];
  }

  private async discover(): Promise<ServedVersions> {
    const [v1, v1beta1] = await Promise.all(PREFERENCE.map((v) => this.list(v)));
    return servedVersions({ v1: v1 ?? [], v1beta1: v1beta1 ?? [] });
  }
}

/** What one version of the group lists; a 404 is "not served", any other failure throws. */
async function listResources(kc: k8s.KubeConfig, version: CertificatesVersion): Promise<readonly string[]> {
  const r = await getJsonOrNotFound<{ resources?: { name?: unknown }[] }>(kc, `${GROUP}/${version}`, {});
  return (r?.resources ?? []).map((x) => x.name).filter((n): n is string => typeof n === 'string' && !n.includes('/'));
}

const shared = new WeakMap<k8s.KubeConfig, CertificatesApi>();
/** The discovery cache for the API server `kc` talks to. */
export function certificatesApi(kc: k8s.KubeConfig): CertificatesApi {
  let api = shared.get(kc);
  if (!api) {
    api = new CertificatesApi((v) => listResources(kc, v));
    shared.set(kc, api);
  }
  return api;
}
