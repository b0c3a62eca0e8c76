// One issuance attempt: key → (durable store, for CAs outside this process) → CSR → sign → verify →
// one server-side apply of the whole Secret → status. Each step is safe to crash after: a restart
// either finds the old valid pair, or the new pair in the Secret and adopts it.
import type { MachineIdentityModel } from '../../crds/index.ts';
import type { KeyObject } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { encodePrivateKey } from '../../pki/keys.ts';
import { buildCsr } from '../../pki/csr.ts';
import { parseCertificate, certificateMatchesKey, type CertFacts } from '../../pki/certs.ts';
import { buildKeystore, buildTruststore } from '../../pki/pkcs12.ts';
import type { AuthorityEntry } from '../../issuers/cache.ts';
import type { SignResult } from '../../issuers/types.ts';
import type { NameConstraintLists } from '../../pki/name-constraints.ts';
import { IssuanceReason, Reason } from '../../crds/reasons.ts';
import type { IssuableSpec, MachineIdentitySpec } from '../../crds/index.ts';
import { desiredSecret } from './secret.ts';
import { renewalTime } from './schedule.ts';
import { certStatus } from './status.ts';
import { crashPoint } from './fault.ts';
import { sameNames } from './triggers.ts';
import type { SecretView } from './inspect.ts';
import { keyFor } from './key-choice.ts';
import { writeOrRefuse } from './write-secret.ts';
import { ownTlsValues, seedWritten } from '../../inventory/seed.ts';
import type { OperatorContext } from '../context.ts';

export interface IssueInput {
  mi: MachineIdentityModel;
  spec: IssuableSpec;
  authority: string;
  entry: AuthorityEntry;
  current?: SecretView;
  revision: number;
  durableKeys: boolean;
  /**
   * resourceVersion of the Secret this identity owns, as last read; undefined when there is none. The
   * write is then a create (never an overwrite of a Secret that appeared meanwhile), else an apply
   * conditional on that version (never an overwrite of one that was replaced meanwhile).
   */
  secretResourceVersion?: string;
  /** With spec.isCA: the name constraints of the namespace's grant (the request was allowed only with a grant). */
  caConstraints?: NameConstraintLists;
}

export type IssueOutcome =
  | {
      kind: 'issued';
      cert: ReturnType<typeof certStatus>;
      leaf: CertFacts;
      keyRotated: boolean;
      notAfter: Date;
      renewal: Date;
      written: k8s.V1Secret;
    }
  | { kind: 'pending'; retryAfterMs: number; message: string; pendingRequest?: { id: string; state: string } }
  | { kind: 'denied'; reason: string; message: string }
  | { kind: 'failed'; reason: string; message: string; retryAfterMs?: number };

export async function issue(ctx: OperatorContext, i: IssueInput): Promise<IssueOutcome> {
  const { mi, spec } = i;
  const unsupported = caConstraintsUnsupported(i);
  if (unsupported) return unsupported;
  const pk = spec.privateKey;
  const { key, reused } = await keyFor(ctx, { ...i, inProcess: i.entry.issuer.inProcess });
  crashPoint('after-keygen');

  const csrPem = await buildCsr(key, {
    subject: spec.subject,
    dnsNames: spec.dnsNames,
    ipAddresses: spec.ipAddresses,
    uris: spec.uris,
    emailAddresses: spec.emailAddresses,
    usages: spec.usages,
    isCA: spec.isCA,
  });
  const requestId = `${mi.metadata.uid}-${i.revision}`;
  const res = await askCa(i, { csrPem, requestId, durationMs: spec.durationMs, key });
  crashPoint('after-sign');
  if (res.status !== 'issued') return notIssued(res, i.entry.issuer.backend, requestId);

  const leaf = parseCertificate(res.certificatePem);
  const now = ctx.now();
  const unusable = checkReturned(res.certificatePem, leaf, key, spec, now, i.entry.issuer.backend);
  if (unusable) return unusable;

  const caPem = caCrtFor(i.entry, res.caPem);
  const stores = await keystores(ctx, mi, spec, key, res.certificatePem, res.chainPem, caPem);
  if ('error' in stores)
    return { kind: 'failed', reason: IssuanceReason.KeystorePasswordUnavailable, message: stores.error };
  const renewal = renewalTime(leaf.notBefore, leaf.notAfter, spec, mi.metadata.uid);
  const keyPem = encodePrivateKey(key, pk.encoding);
  const body = desiredSecret({
    identity: { name: mi.metadata.name, namespace: mi.metadata.namespace, uid: mi.metadata.uid },
    secretName: spec.secretName,
    deletionPolicy: spec.deletionPolicy,
    template: spec.secretTemplate,
    ownerTeam: spec.owner?.team,
    keyPem,
    keyEncoding: pk.encoding,
    leafPem: res.certificatePem,
    chainPem: res.chainPem,
    caPem,
    ...stores,
    serialNumber: leaf.serialNumber,
    notAfter: leaf.notAfter,
    issuerDN: leaf.issuerDN,
    revision: i.revision,
    authority: i.authority,
    authorityFingerprint: res.authorityFingerprintSHA256,
    requestedDuration: spec.duration,
    issuedAt: now,
  });
  const w = await writeOrRefuse(ctx.kc, body, {
    namespace: mi.metadata.namespace,
    secretName: spec.secretName,
    secretResourceVersion: i.secretResourceVersion,
  });
  if ('refused' in w) return w.refused;
  const written = w.secret;
  // the inventory need not parse what we just wrote: its facts, for exactly these values (seed.ts)
  const own = ownTlsValues(ctx.parser, {
    data: body.data ?? {},
    leaf,
    leafPem: res.certificatePem,
    chainPem: res.chainPem,
    keyPem,
    caPem,
  });
  if (own) seedWritten(written, own, ctx.parser.budget);
  crashPoint('after-secret-write');
  return {
    kind: 'issued',
    cert: certStatus(leaf, res.authorityFingerprintSHA256, renewal, i.revision),
    leaf,
    keyRotated: !reused,
    notAfter: leaf.notAfter,
    renewal,
    written,
  };
}

/** Only a CA whose key is in this process can be made to add pathLenConstraint 0 and the name constraints. */
function caConstraintsUnsupported(i: IssueInput): IssueOutcome | undefined {
  if (!i.spec.isCA || i.entry.issuer.inProcess) return undefined;
  return {
    kind: 'denied',
    reason: Reason.CAConstraintsUnsupported,
    message: `${i.entry.issuer.backend}: a CA certificate must carry pathLenConstraint 0 and name constraints, which only the ca and selfSigned backends add`,
  };
}

/** ca.crt: the binding's published bundle when it keeps one (old and new CA during a CA change), else the CA's answer. */
function caCrtFor(entry: IssueInput['entry'], caPem: string): string {
  return entry.trustBundlePem ?? caPem;
}

/** One call to the backend: a request already at the CA (saved in status while pending) is resumed. */
async function askCa(
  i: IssueInput,
  r: { csrPem: string; requestId: string; durationMs: number; key: KeyObject },
): Promise<SignResult> {
  const { mi, spec } = i;
  const prior = mi.status?.pendingRequest;
  const state = prior?.id === r.requestId ? prior.state : undefined;
  try {
    return await i.entry.issuer.sign({
      csrPem: r.csrPem,
      requestId: r.requestId,
      identity: { namespace: mi.metadata.namespace, name: mi.metadata.name, uid: mi.metadata.uid },
      durationMs: r.durationMs,
      isCA: spec.isCA,
      usages: spec.usages,
      privateKey: r.key,
      ...(state ? { state } : {}),
      ...(i.caConstraints ? { caConstraints: i.caConstraints } : {}),
    });
  } catch (e) {
    return { status: 'failed', reason: IssuanceReason.CAError, message: (e as Error).message };
  }
}

function notIssued(res: Exclude<SignResult, { status: 'issued' }>, backend: string, requestId: string): IssueOutcome {
  if (res.status === 'pending')
    return {
      kind: 'pending',
      retryAfterMs: res.retryAfterMs,
      message: res.message,
      ...(res.state ? { pendingRequest: { id: requestId, state: res.state } } : {}),
    };
  return {
    kind: res.status,
    reason: res.reason,
    message: `${backend}: ${res.message}`,
    ...(res.status === 'failed' && res.retryAfterMs !== undefined ? { retryAfterMs: res.retryAfterMs } : {}),
  };
}

async function keystores(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  spec: MachineIdentitySpec,
  key: KeyObject,
  leafPem: string,
  chainPem: string[],
  caPem: string,
): Promise<{ keystore?: Buffer; truststore?: Buffer } | { error: string }> {
  const ref = spec.keystores?.pkcs12?.passwordSecretRef;
  if (!ref) return {};
  let password: string | undefined;
  try {
    const s = await ctx.kc
      .makeApiClient(k8s.CoreV1Api)
      .readNamespacedSecret({ name: ref.name, namespace: mi.metadata.namespace });
    const v = s.data?.[ref.key];
    password = v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
  } catch {
    password = undefined;
  }
  if (password === undefined)
    return {
      error: `keystores.pkcs12.passwordSecretRef: key ${JSON.stringify(ref.key)} of Secret ${JSON.stringify(ref.name)} is not readable; create it`,
    };
  return {
    keystore: buildKeystore({ key, certificatePem: leafPem, chainPem, password, friendlyName: mi.metadata.name }),
    truststore: buildTruststore({ caPems: [caPem], password }),
  };
}

/** What a returned certificate lacks or adds compared with the spec (isCA, SAN lists); undefined when it matches. */
function certificateMismatch(spec: MachineIdentitySpec, leaf: CertFacts): string | undefined {
  const diffs: string[] = [];
  if (spec.isCA !== leaf.isCA) diffs.push(`isCA ${leaf.isCA} instead of ${spec.isCA}`);
  const cn = spec.subject?.commonName;
  for (const [k, want, got] of [
    ['dnsNames', spec.dnsNames, leaf.dnsNames],
    ['ipAddresses', spec.ipAddresses, leaf.ipAddresses],
    ['uris', spec.uris, leaf.uris],
    ['emailAddresses', spec.emailAddresses, leaf.emailAddresses],
  ] as const) {
    if (!sameNames(want ?? [], got, k === 'dnsNames' ? cn : undefined))
      diffs.push(`${k} [${got.join(', ')}] instead of [${(want ?? []).join(', ')}]`);
  }
  return diffs.length ? diffs.join('; ') : undefined;
}

/** Never store what would not work: a certificate for another key, one already expired, or one that is not what was asked. */
function checkReturned(
  pem: string,
  leaf: CertFacts,
  key: KeyObject,
  spec: MachineIdentitySpec,
  now: Date,
  backend: string,
): IssueOutcome | undefined {
  if (!certificateMatchesKey(pem, key))
    return {
      kind: 'failed',
      reason: Reason.InvalidCertificate,
      message: 'the CA returned a certificate for a different public key',
    };
  if (leaf.notAfter <= now)
    return {
      kind: 'failed',
      reason: Reason.InvalidCertificate,
      message: `the CA returned a certificate that expired at ${leaf.notAfter.toISOString()}`,
    };
  // a CA that silently drops part of the request (CA:TRUE, a SAN) would otherwise be asked again forever
  const mismatch = certificateMismatch(spec, leaf);
  if (mismatch)
    return {
      kind: 'denied',
      reason: IssuanceReason.CertificateMismatch,
      message: `${backend} returned a certificate that does not match the request: ${mismatch}; the previous certificate is kept`,
    };
  return undefined;
}
