// The nameConstraints extension value (RFC 5280 4.2.1.10) for a CA certificate: what names the
// certificates it signs may carry.
import { TAG, tlv } from './der.ts';

/** Name constraints of a CA certificate: DNS subtrees, CIDRs, mailbox/host constraints, URI hosts. */
export interface NameConstraintLists {
  permittedDNS: readonly string[];
  excludedDNS: readonly string[];
  permittedIP: readonly string[];
  excludedIP: readonly string[];
  permittedEmail: readonly string[];
  permittedURI: readonly string[];
}

/** The 16 octets of an IPv6 address in its textual form (validated upstream: the contract's CIDR schema). */
function ipv6Octets(addr: string, out: Buffer): void {
  const [head, tail] = addr.split('::');
  const hs = head ? head.split(':') : [];
  const ts = tail ? tail.split(':') : [];
  const groups = tail === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
}

/** The mask octet at `index` for a prefix of `bits` bits. */
function maskOctet(bits: number, index: number): number {
  const left = bits - index * 8;
  if (left >= 8) return 0xff;
  return left <= 0 ? 0 : (0xff << (8 - left)) & 0xff;
}

/** iPAddress in a constraint: the address then the mask, 8 octets for IPv4 and 32 for IPv6. */
function cidrOctets(cidr: string): Buffer {
  const [addr = '', bits] = cidr.split('/');
  const v6 = addr.includes(':');
  const width = v6 ? 16 : 4;
  const bytes = Buffer.alloc(width * 2);
  if (v6) ipv6Octets(addr, bytes);
  else addr.split('.').forEach((o, i) => bytes.writeUInt8(Number(o) & 0xff, i));
  for (let i = 0; i < width; i++) {
    const mask = maskOctet(Number(bits), i);
    bytes.writeUInt8(mask, width + i);
    bytes.writeUInt8(bytes.readUInt8(i) & mask, i); // the address is the network
  }
  return bytes;
}

// GeneralSubtree ::= SEQUENCE { base GeneralName } (minimum 0 is the default, maximum absent); GeneralName tags are implicit
const subtree = (tag: number, v: Buffer): Buffer => tlv(TAG.SEQUENCE, tlv(tag, v));
const ia5 = (s: string): Buffer => Buffer.from(s, 'ascii');
const RFC822 = 0x81;
const DNS = 0x82;
const URI = 0x86;
const IP = 0x87;

/** NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL, excludedSubtrees [1] GeneralSubtrees OPTIONAL } */
export function nameConstraintsValue(c: NameConstraintLists): Buffer {
  const permitted = [
    ...c.permittedEmail.map((e) => subtree(RFC822, ia5(e))),
    ...c.permittedDNS.map((d) => subtree(DNS, ia5(d))),
    ...c.permittedURI.map((u) => subtree(URI, ia5(u))),
    ...c.permittedIP.map((x) => subtree(IP, cidrOctets(x))),
  ];
  const excluded = [
    ...c.excludedDNS.map((d) => subtree(DNS, ia5(d))),
    ...c.excludedIP.map((x) => subtree(IP, cidrOctets(x))),
  ];
  const parts: Buffer[] = [];
  if (permitted.length) parts.push(tlv(0xa0, ...permitted));
  if (excluded.length) parts.push(tlv(0xa1, ...excluded));
  return tlv(TAG.SEQUENCE, ...parts);
}
