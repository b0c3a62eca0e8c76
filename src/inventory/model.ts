// The inventory's view of every certificate found: where it is, who owns it, who issued it, whether a
// CA the operator knows signed it, and what the IssuancePolicies say about it. Pure: built from the
// projections the informers keep.
import type { CertRecord } from './cert-record.ts';
import type { ParseProblem } from './extract.ts';
import type { KeyRecord } from './key-facts.ts';
import type { EntryAnomaly } from '../validation/anomaly-finding.ts';
import { certificateFromFacts } from '../policy/types.ts';
import { evaluateCertificate, type CompiledPolicy } from '../policy/evaluate.ts';
import type { Violation } from '../policy/types.ts';

/** What the informers keep of an object that may hold certificates. */
export interface InventoryObject {
  apiVersion?: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  certs: CertRecord[];
  problems: ParseProblem[];
  /** Public-key fingerprints of the private keys a Secret holds (never the keys). */
  keys?: KeyRecord[];
  /** Handed to the parse pool; certs and problems are attached when it answers. */
  pending?: boolean;
}

/** What the informers keep of a Pod: the Secrets and ConfigMaps it mounts, projects or reads, and its workload. */
export interface PodRefs {
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string };
  /** Every Secret it names (volumes, projected sources, env): where a Secret is used. */
  secrets: string[];
  configMaps: string[];
  /** The Secrets it mounts as files (`secret` volumes, `projected` secret sources): what it can serve. */
  mounted: string[];
  /**
   * Its own IPs (status.podIPs, else podIP), only while it can serve: not for a finished Pod (its IP may
   * already be another Pod's) nor a hostNetwork Pod (the IP is the node's, shared with whatever else
   * listens there). The validation prober dials an EndpointSlice address only when it is one of these.
   */
  ips: string[];
  workload?: string;
}

/** One `spec.tls` entry of an Ingress. */
export interface IngressTls {
  hosts: string[];
  secretName: string;
}

/** One listener of a Gateway; `secrets` are its certificateRefs to Secrets in the Gateway's namespace. */
export interface GatewayListener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  secrets: string[];
}

/** What the informers keep of an Ingress or Gateway: the Secrets its TLS config names. */
export interface TlsRefs {
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string };
  secrets: string[];
  /** spec.ingressClassName / spec.gatewayClassName. */
  className?: string;
  /** Ingress only. */
  tls?: IngressTls[];
  /** Gateway only: the listeners that name a local Secret. */
  listeners?: GatewayListener[];
}

export interface KnownCa {
  authority: string;
  subjectDN: string;
  subjectKeyId?: string;
  fingerprintSHA256: string;
}

interface Location {
  pods: string[];
  workloads: string[];
  ingresses: string[];
  gateways: string[];
}

export interface InventoryEntry {
  namespace: string;
  kind: string;
  name: string;
  cert: CertRecord;
  managed: boolean;
  /** The MachineIdentity that manages the holding Secret. */
  identity?: string;
  /** The CertificateAuthorityBinding whose CA signed it (or that it is). */
  authority?: string;
  /** Chains to (or is) a CA of a CertificateAuthorityBinding. */
  trusted: boolean;
  owner?: string;
  location: Location;
  violations: Violation[];
  compliant: boolean;
  /** Anomalies of the holding object (KeyReuse, KeyCopied) or its identity (ReissueLoop), muted ones too. */
  anomalies?: EntryAnomaly[];
}

export interface ManagedIdentity {
  name: string;
  ownerTeam?: string;
  authority?: string;
}

export interface ModelInput {
  objects: readonly InventoryObject[];
  pods: readonly PodRefs[];
  tls: readonly TlsRefs[];
  knownCas: readonly KnownCa[];
  /** `<namespace>/<secret name>` → the identity that manages it. */
  identities: ReadonlyMap<string, ManagedIdentity>;
  namespaces: ReadonlyMap<string, { labels: Record<string, string>; annotations: Record<string, string> }>;
  /** Label/annotation keys that name an owner, in order of preference. */
  ownerKeys: readonly string[];
  policies: readonly CompiledPolicy[];
  /** Verdict cache across builds; cleared by the caller when policies or namespace labels change. */
  verdicts?: Map<string, Violation[]>;
}

const EMPTY: Location = Object.freeze({ pods: [], workloads: [], ingresses: [], gateways: [] }) as Location;

function locations(pods: readonly PodRefs[], tls: readonly TlsRefs[]): Map<string, Location> {
  const out = new Map<string, Location>();
  const at = (k: string): Location => {
    let l = out.get(k);
    if (!l) out.set(k, (l = { pods: [], workloads: [], ingresses: [], gateways: [] }));
    return l;
  };
  const mountedBy = (l: Location, p: PodRefs): void => {
    l.pods.push(p.metadata.name);
    if (p.workload && !l.workloads.includes(p.workload)) l.workloads.push(p.workload);
  };
  for (const p of pods) {
    const ns = p.metadata.namespace ?? '';
    for (const n of p.secrets) mountedBy(at(`Secret/${ns}/${n}`), p);
    for (const n of p.configMaps) mountedBy(at(`ConfigMap/${ns}/${n}`), p);
  }
  for (const t of tls) {
    for (const n of t.secrets) {
      const l = at(`Secret/${t.metadata.namespace ?? ''}/${n}`);
      (t.kind === 'Ingress' ? l.ingresses : l.gateways).push(t.metadata.name);
    }
  }
  return out;
}

function ownerOf(o: InventoryObject, identity: ManagedIdentity | undefined, input: ModelInput): string | undefined {
  if (identity?.ownerTeam) return identity.ownerTeam;
  const ns = input.namespaces.get(o.metadata.namespace ?? '');
  for (const src of [o.metadata.labels, o.metadata.annotations, ns?.labels, ns?.annotations]) {
    for (const k of input.ownerKeys) {
      const v = src?.[k];
      if (v) return v;
    }
  }
  return undefined;
}

const caKey = (dn: string, ski?: string): string => `${dn}\0${ski ?? ''}`;

/** The authority whose CA signed `c` (issuer DN and, when both sides have one, key identifier), if any. */
function signer(
  c: CertRecord,
  cas: ReadonlyMap<string, string>,
  byDn: ReadonlyMap<string, string>,
): string | undefined {
  if (c.authorityKeyId) return cas.get(caKey(c.issuerDN, c.authorityKeyId)) ?? cas.get(caKey(c.issuerDN));
  return byDn.get(c.issuerDN);
}

/** Per certificate of one object: the authority it chains to (through chain certificates in the same object too). */
function chainAuthorities(o: InventoryObject, known: readonly KnownCa[]): (string | undefined)[] {
  const cas = new Map<string, string>(),
    byDn = new Map<string, string>(),
    byFp = new Map<string, string>();
  for (const k of known) {
    cas.set(caKey(k.subjectDN, k.subjectKeyId), k.authority);
    cas.set(caKey(k.subjectDN), k.authority);
    byDn.set(k.subjectDN, k.authority);
    byFp.set(k.fingerprintSHA256, k.authority);
  }
  const out = o.certs.map((c) => byFp.get(c.fingerprintSHA256) ?? signer(c, cas, byDn));
  // an intermediate in the same object that chains makes what it signed chain too
  for (let pass = 0; pass < 3; pass++) {
    o.certs.forEach((c, i) => {
      const a = out[i];
      if (a && c.isCA) {
        cas.set(caKey(c.subjectDN, c.subjectKeyId), a);
        cas.set(caKey(c.subjectDN), a);
        byDn.set(c.subjectDN, a);
      }
    });
    o.certs.forEach((c, i) => {
      out[i] ??= signer(c, cas, byDn);
    });
  }
  return out;
}

/** One certificate of one version of an object: its verdict cannot change while the policies and namespace labels do not. */
function verdictKey(o: InventoryObject, c: CertRecord): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}/${o.metadata.resourceVersion ?? ''}/${c.key}`;
}

function violationsOf(
  o: InventoryObject,
  c: CertRecord,
  authority: string | undefined,
  input: ModelInput,
): Violation[] {
  // CA certificates (bundles, chains) are inventoried and reported, but identity rules apply to leaves
  if (c.isCA || input.policies.length === 0) return [];
  const ck = verdictKey(o, c);
  const hit = input.verdicts?.get(ck);
  if (hit) return hit;
  const ns = o.metadata.namespace ?? '';
  const facts = { ...c, notBefore: new Date(c.notBefore), notAfter: new Date(c.notAfter) } as never;
  const where = {
    namespace: ns,
    kind: o.kind,
    name: o.metadata.name,
    dataKey: c.key,
    labels: o.metadata.labels ?? {},
    ...(authority ? { authority } : {}),
  };
  const v = evaluateCertificate(certificateFromFacts(facts, where), input.policies, {
    namespaceLabels: input.namespaces.get(ns)?.labels ?? {},
  }).violations;
  input.verdicts?.set(ck, v);
  return v;
}

/** The Secret carries the label the operator writes on an identity's Secret (issuance's isOwnedBy). */
function isManagedBy(o: InventoryObject, identity: string): boolean {
  return o.metadata.labels?.['machineidentity.io/identity'] === identity;
}

export function buildEntries(input: ModelInput): InventoryEntry[] {
  const locs = locations(input.pods, input.tls);
  const out: InventoryEntry[] = [];
  for (const o of input.objects) {
    if (o.certs.length === 0) continue;
    const ns = o.metadata.namespace ?? '';
    const named = o.kind === 'Secret' ? input.identities.get(`${ns}/${o.metadata.name}`) : undefined;
    // managed: an identity names this Secret and the Secret carries that identity's label (what the issuance
    // controller calls ours). The label alone is not enough: any namespace editor can set it on their own Secret,
    // and a managed certificate is not reported as discovered (no PolicyViolation, no finding).
    const identity = named && isManagedBy(o, named.name) ? named : undefined;
    const managed = Boolean(identity);
    const owner = ownerOf(o, identity, input);
    const location = locs.get(`${o.kind}/${ns}/${o.metadata.name}`) ?? EMPTY;
    const chains = chainAuthorities(o, input.knownCas);
    o.certs.forEach((cert, i) => {
      const authority = chains[i] ?? (managed ? identity?.authority : undefined);
      const violations = violationsOf(o, cert, authority, input);
      const e: InventoryEntry = {
        namespace: ns,
        kind: o.kind,
        name: o.metadata.name,
        cert,
        managed,
        trusted: chains[i] !== undefined,
        location,
        violations,
        compliant: violations.length === 0,
      };
      if (identity) e.identity = identity.name;
      if (authority) e.authority = authority;
      if (owner) e.owner = owner;
      out.push(e);
    });
  }
  return out;
}
