// One pure function per IssuancePolicy rule (the name and subject rules are in name-rules.ts). Each returns the findings (violations without the
// policy name) for one target; an absent rule allows anything, an empty allowed list allows nothing.
import { formatDuration } from '../crds/common.ts';
import type { CompiledRules } from './compile-rules.ts';
import { eachValue, finding, NONE, noneOf, type Finding } from './findings.ts';
import { dnsNames, emailAddresses, ipAddresses, subject, uris } from './name-rules.ts';
import type { RuleCheck, RuleTarget } from './rule-target.ts';
import { ECDSA_CURVE_OF_SIZE } from './types.ts';

/** Requests name their authority; a discovered certificate must chain to the CA of one of them. */
const allowedAuthorities: RuleCheck = (r, t) => {
  const allowed = r.raw.allowedAuthorities;
  if (!allowed || allowed.includes(t.authority ?? '')) return NONE;
  if (t.source === 'request')
    return [finding('allowedAuthorities', 'authorityRef.name', t.authority ?? '', noneOf(allowed, 'is not one of'))];
  return [
    finding(
      'allowedAuthorities',
      'issuer',
      t.issuer ?? '',
      allowed.length === 0
        ? 'is not allowed: allowedAuthorities is empty'
        : `is not the CA of any of ${allowed.join(', ')}`,
    ),
  ];
};

const isRsa = (alg: string): boolean => alg === 'RSA' || alg === 'RSASSA-PSS';

type PrivateKeyRules = NonNullable<CompiledRules['raw']['privateKey']>;

function keyAlgorithmFindings(pk: PrivateKeyRules, algorithm: string): readonly Finding[] {
  if (!pk.allowedAlgorithms || (pk.allowedAlgorithms as string[]).includes(algorithm)) return NONE;
  return [
    finding(
      'privateKey.allowedAlgorithms',
      'privateKey.algorithm',
      algorithm,
      noneOf(pk.allowedAlgorithms, 'is not one of'),
    ),
  ];
}

function rsaSizeFindings(pk: PrivateKeyRules, algorithm: string, size: number | undefined): readonly Finding[] {
  if (pk.minRSASize === undefined || !isRsa(algorithm) || (size ?? 0) >= pk.minRSASize) return NONE;
  return [
    finding(
      'privateKey.minRSASize',
      'privateKey.size',
      String(size ?? 'unknown'),
      `is below minRSASize ${pk.minRSASize}`,
    ),
  ];
}

function curveFindings(pk: PrivateKeyRules, algorithm: string, size: number | undefined): readonly Finding[] {
  if (!pk.allowedECDSACurves || algorithm !== 'ECDSA') return NONE;
  const curve = size === undefined ? undefined : ECDSA_CURVE_OF_SIZE[size];
  if (curve !== undefined && (pk.allowedECDSACurves as string[]).includes(curve)) return NONE;
  return [
    finding(
      'privateKey.allowedECDSACurves',
      'privateKey.size',
      curve ?? String(size ?? 'unknown'),
      noneOf(pk.allowedECDSACurves, 'is not one of'),
    ),
  ];
}

const privateKey: RuleCheck = (r, t) => {
  const pk = r.raw.privateKey;
  if (!pk) return NONE;
  const { algorithm, size } = t.key;
  const out: Finding[] = [];
  for (const f of keyAlgorithmFindings(pk, algorithm)) out.push(f);
  for (const f of rsaSizeFindings(pk, algorithm, size)) out.push(f);
  for (const f of curveFindings(pk, algorithm, size)) out.push(f);
  return out;
};

/** How far a certificate's lifetime may exceed maxDuration: the back-dating issuers allow for clock skew (the API server's PCR window). */
const LIFETIME_SLACK_MS = 5 * 60_000;

const duration: RuleCheck = (r, t) => {
  const field = t.source === 'request' ? 'duration' : 'lifetime';
  if (!Number.isFinite(t.durationMs) || t.durationMs < 0) {
    return r.maxDurationMs === undefined
      ? []
      : [finding('maxDuration', field, String(t.durationMs), 'is not a valid duration')];
  }
  const shown = formatDuration(t.durationMs);
  // issuers back-date notBefore for clock skew, so a certificate's lifetime may exceed what was requested by that much
  const slack = t.source === 'certificate' ? LIFETIME_SLACK_MS : 0;
  if (r.maxDurationMs !== undefined && t.durationMs > r.maxDurationMs + slack) {
    return [
      finding(
        'maxDuration',
        field,
        shown,
        `exceeds maxDuration ${r.raw.maxDuration ?? formatDuration(r.maxDurationMs)}`,
      ),
    ];
  }
  if (r.minDurationMs !== undefined && t.durationMs < r.minDurationMs) {
    return [
      finding(
        'minDuration',
        field,
        shown,
        `is below minDuration ${r.raw.minDuration ?? formatDuration(r.minDurationMs)}`,
      ),
    ];
  }
  return NONE;
};

const usages: RuleCheck = (r, t) => {
  const allowed = r.raw.usages?.allowed as string[] | undefined;
  if (!allowed) return NONE;
  return eachValue(
    t.usages,
    'usages',
    'usages.allowed',
    (v) => allowed.includes(v),
    () => noneOf(allowed, 'is not one of'),
  );
};

const allowCA: RuleCheck = (r, t) =>
  r.raw.allowCA === false && t.isCA
    ? [{ rule: 'allowCA', field: 'isCA', value: 'true', message: 'isCA true is not allowed (allowCA is false)' }]
    : NONE;

const requireOwner: RuleCheck = (r, t) =>
  r.raw.requireOwner === true && t.source === 'request' && !t.ownerTeam
    ? [{ rule: 'requireOwner', field: 'owner.team', value: '', message: 'owner.team is required' }]
    : NONE;

/** Discovered certificates only: a self-signed leaf (not a CA) is a violation. */
const forbidSelfSigned: RuleCheck = (r, t) =>
  r.raw.forbidSelfSigned === true && t.source === 'certificate' && t.selfSigned === true && !t.isCA
    ? [
        {
          rule: 'forbidSelfSigned',
          field: 'selfSigned',
          value: 'true',
          message: 'selfSigned true: a self-signed leaf certificate is not allowed',
        },
      ]
    : NONE;

/** Discovered certificates only. */
const allowedSignatureAlgorithms: RuleCheck = (r, t) => {
  const allowed = r.raw.allowedSignatureAlgorithms as string[] | undefined;
  if (!allowed || t.source !== 'certificate' || allowed.includes(t.signatureAlgorithm ?? '')) return NONE;
  return [
    finding(
      'allowedSignatureAlgorithms',
      'signatureAlgorithm',
      t.signatureAlgorithm ?? '',
      noneOf(allowed, 'is not one of'),
    ),
  ];
};

/** Every rule, in the contract's order (the order violations are reported in). */
const RULES: readonly RuleCheck[] = [
  allowedAuthorities,
  privateKey,
  duration,
  dnsNames,
  ipAddresses,
  uris,
  emailAddresses,
  subject,
  usages,
  allowCA,
  requireOwner,
  forbidSelfSigned,
  allowedSignatureAlgorithms,
];

export function checkRules(r: CompiledRules, t: RuleTarget): Finding[] {
  const out: Finding[] = [];
  for (const rule of RULES) {
    const found = rule(r, t);
    for (const f of found) out.push(f);
  }
  return out;
}
