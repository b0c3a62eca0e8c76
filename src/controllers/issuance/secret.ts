// The Secret an identity owns: its exact contents as one server-side-apply body (key, chain, CA and
// keystores together, so a reader never sees a mismatched pair), and the bookkeeping read back from it.
import { dataDigests, type ProjectedSecret } from './inspect.ts';
import type * as k8s from '@kubernetes/client-node';
import type { SecretRecord } from './triggers.ts';
import { parseDuration } from '../../crds/index.ts';

export const LABEL_IDENTITY = 'machineidentity.io/identity';
export const ANN = {
  serial: 'machineidentity.io/serial',
  notAfter: 'machineidentity.io/not-after',
  issuer: 'machineidentity.io/issuer',
  ownerTeam: 'machineidentity.io/owner-team',
  revision: 'machineidentity.io/revision',
  authority: 'machineidentity.io/authority',
  authorityFingerprint: 'machineidentity.io/authority-fingerprint',
  requestedDuration: 'machineidentity.io/requested-duration',
  issuedAt: 'machineidentity.io/issued-at',
  keyEncoding: 'machineidentity.io/key-encoding',
} as const;
export const RENEW_REQUESTED_AT = 'machineidentity.io/renew-requested-at';

export interface SecretContents {
  identity: { name: string; namespace: string; uid: string };
  secretName: string;
  deletionPolicy: 'Delete' | 'Retain';
  template?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  ownerTeam?: string;
  keyPem: string;
  keyEncoding: string;
  leafPem: string;
  chainPem: string[];
  caPem: string;
  keystore?: Buffer;
  truststore?: Buffer;
  serialNumber: string;
  notAfter: Date;
  issuerDN: string;
  revision: number;
  authority: string;
  authorityFingerprint: string;
  requestedDuration: string;
  issuedAt: Date;
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const pemJoin = (pems: string[]): string => pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
const second = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function desiredSecret(c: SecretContents): k8s.V1Secret {
  const data: Record<string, string> = {
    'tls.crt': b64(pemJoin([c.leafPem, ...c.chainPem])),
    'tls.key': b64(c.keyPem),
    'ca.crt': b64(c.caPem),
  };
  if (c.keystore) data['keystore.p12'] = b64(c.keystore);
  if (c.truststore) data['truststore.p12'] = b64(c.truststore);
  const annotations: Record<string, string> = {
    ...(c.template?.annotations ?? {}),
    [ANN.serial]: c.serialNumber,
    [ANN.notAfter]: second(c.notAfter),
    [ANN.issuer]: c.issuerDN,
    [ANN.revision]: String(c.revision),
    [ANN.authority]: c.authority,
    [ANN.authorityFingerprint]: c.authorityFingerprint,
    [ANN.requestedDuration]: c.requestedDuration,
    [ANN.issuedAt]: c.issuedAt.toISOString(),
    [ANN.keyEncoding]: c.keyEncoding,
  };
  if (c.ownerTeam) annotations[ANN.ownerTeam] = c.ownerTeam;
  const metadata: k8s.V1ObjectMeta = {
    name: c.secretName,
    namespace: c.identity.namespace,
    labels: { ...(c.template?.labels ?? {}), [LABEL_IDENTITY]: c.identity.name },
    annotations,
  };
  if (c.deletionPolicy === 'Delete') {
    // garbage-collected with the MachineIdentity by kube-controller-manager
    metadata.ownerReferences = [
      {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'MachineIdentity',
        name: c.identity.name,
        uid: c.identity.uid,
        controller: true,
        blockOwnerDeletion: false,
      },
    ];
  }
  return { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata, data };
}

export function readRecord(secret: k8s.V1Secret | undefined): SecretRecord {
  const a = secret?.metadata?.annotations ?? {};
  const rev = Number(a[ANN.revision]);
  const issuedAt = a[ANN.issuedAt];
  const issued = issuedAt ? new Date(issuedAt) : undefined;
  // the annotation is the string the spec asked for: compared in ms, so 90m and 1h30m are the same request
  const requested = a[ANN.requestedDuration];
  return {
    revision: Number.isInteger(rev) ? rev : undefined,
    authority: a[ANN.authority],
    authorityFingerprint: a[ANN.authorityFingerprint],
    requestedDuration: requested,
    requestedDurationMs: requested === undefined ? undefined : parseDuration(requested),
    issuedAt: issued && !Number.isNaN(issued.getTime()) ? issued : undefined,
  };
}

/** A Secret is ours only when it carries our identity label for this identity. */
export function isOwnedBy(secret: k8s.V1Secret, identityName: string): boolean {
  return secret.metadata?.labels?.[LABEL_IDENTITY] === identityName;
}

/** Whether the live Secret's metadata and non-key data drifted from what we would write (no reissue needed). */
export function metadataDrift(
  live: k8s.V1Secret,
  want: k8s.V1Secret,
  o: { compareCa?: boolean } = {},
): string | undefined {
  return (
    mapDrift('label', live.metadata?.labels, want.metadata?.labels) ??
    mapDrift('annotation', live.metadata?.annotations, want.metadata?.annotations, ANN.issuedAt) ??
    ownerDrift(live, want) ??
    dataDrift(live, want, o.compareCa ?? true)
  );
}

function mapDrift(
  what: string,
  live: Record<string, string> | undefined,
  want: Record<string, string> | undefined,
  ignore?: string,
): string | undefined {
  for (const [k, v] of Object.entries(want ?? {})) if (k !== ignore && live?.[k] !== v) return `${what} ${k}`;
  return undefined;
}

function ownerDrift(live: k8s.V1Secret, want: k8s.V1Secret): string | undefined {
  const owners = live.metadata?.ownerReferences ?? [];
  const wantUid = want.metadata?.ownerReferences?.[0]?.uid;
  const ok = wantUid ? owners.some((o) => o.uid === wantUid) : !owners.some((o) => o.kind === 'MachineIdentity');
  return ok ? undefined : 'ownerReferences';
}

/** `live` may be the cache's projection (digests instead of data). */
function dataDrift(live: ProjectedSecret, want: k8s.V1Secret, compareCa: boolean): string | undefined {
  const have = dataDigests(live),
    wanted = dataDigests(want);
  for (const k of ['keystore.p12', 'truststore.p12']) if (Boolean(have[k]) !== Boolean(wanted[k])) return `data ${k}`;
  if (compareCa && have['ca.crt'] !== wanted['ca.crt']) return 'data ca.crt';
  return live.type === 'kubernetes.io/tls' ? undefined : 'type';
}
