// What an IssuancePolicy rule looks at (a request or a discovered certificate, names parsed once)
// and the shape of a rule.
import type { CompiledRules } from './compile-rules.ts';
import type { Finding } from './findings.ts';
import { parseIp, type IpValue } from './ip-ranges.ts';
import { dnsNameLabels, parseUri, type UriParts } from './patterns.ts';
import type { CertificateShape } from './types.ts';

/** What a rule looks at: a request or a discovered certificate, with its names parsed once. */
export interface RuleTarget extends CertificateShape {
  source: 'request' | 'certificate';
  authority?: string;
  ownerTeam?: string;
  durationMs: number;
  signatureAlgorithm?: string;
  selfSigned?: boolean;
  /** Discovered certificates: the issuer DN. */
  issuer?: string;
  parsed: { dnsNames: (string[] | undefined)[]; uris: (UriParts | undefined)[]; ips: (IpValue | undefined)[] };
}

export type RuleCheck = (rules: CompiledRules, t: RuleTarget) => readonly Finding[];

/** Parses a target's names once, for every policy it is checked against. */
export function parseNames(shape: Pick<CertificateShape, 'dnsNames' | 'uris' | 'ipAddresses'>): RuleTarget['parsed'] {
  return {
    dnsNames: shape.dnsNames.map(dnsNameLabels),
    uris: shape.uris.map(parseUri),
    ips: shape.ipAddresses.map(parseIp),
  };
}
