// DNS-01 through RFC 2136 dynamic updates signed with TSIG (BIND 9, Knot, PowerDNS, Windows DNS).
// TCP, so an answer is never truncated and no retransmission logic is needed.
import { connect } from 'node:net';
import {
  CLASS,
  parseMessage,
  queryMessage,
  RCODE,
  signTsig,
  TYPE,
  txtRdata,
  tsigError,
  updateMessage,
  type ParsedMessage,
  type TsigKey,
} from './dns-wire.ts';

export interface Rfc2136Target {
  nameserver: string;
  key?: TsigKey;
  zone?: string;
  timeoutMs?: number;
}

export class DnsUpdateError extends Error {}

/** host, host:port, [v6]:port → host and port (53 by default). */
export function parseNameserver(s: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const colons = s.split(':').length - 1;
  const i = s.lastIndexOf(':');
  // [v6]:port, host:port, a bare IPv6 address (several colons), or a bare host
  const [host, port] = v6 ? [v6[1] ?? '', v6[2] ?? '53'] : colons === 1 ? [s.slice(0, i), s.slice(i + 1)] : [s, '53'];
  const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!host || !(n >= 1 && n <= 65535))
    throw new DnsUpdateError(
      `nameserver ${JSON.stringify(s)} is not host, host:port or [IPv6]:port with a port from 1 to 65535`,
    );
  return { host, port: n };
}

/** One DNS message over TCP (RFC 7766 length-prefixed) and its answer. */
function exchange(nameserver: string, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  const { host, port } = parseNameserver(nameserver);
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(
      () => sock.destroy(new DnsUpdateError(`no answer from ${nameserver} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      sock.end(Buffer.concat([len, msg]));
    });
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      const all = Buffer.concat(chunks);
      if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(all.subarray(2, 2 + all.readUInt16BE(0)));
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(
        e instanceof DnsUpdateError
          ? e
          : new DnsUpdateError(`nameserver ${nameserver}: ${(e as NodeJS.ErrnoException).code ?? e.message}`),
      );
    });
    sock.on('close', () => {
      clearTimeout(timer);
      reject(new DnsUpdateError(`nameserver ${nameserver} closed the connection without an answer`));
    });
  });
}

/** The zone that holds `name`: the owner of the SOA the primary returns for it (in the answer or authority section). */
export async function findZone(t: Rfc2136Target, name: string): Promise<string> {
  if (t.zone) return t.zone.replace(/\.$/, '');
  const answer = parseMessage(await exchange(t.nameserver, queryMessage(name, TYPE.SOA), t.timeoutMs ?? 10_000));
  const soa = [...(answer.sections[0] ?? []), ...(answer.sections[1] ?? [])].find((r) => r.type === TYPE.SOA);
  if (!soa)
    throw new DnsUpdateError(
      `nameserver ${t.nameserver} is not authoritative for ${name} (${RCODE[answer.rcode] ?? answer.rcode}, no SOA): set dns01.rfc2136.zone or point nameserver at the zone's primary`,
    );
  return soa.name;
}

async function update(
  t: Rfc2136Target,
  zone: string,
  name: string,
  value: string,
  add: boolean,
  ttl: number,
): Promise<void> {
  const rec = { name, type: TYPE.TXT, cls: add ? CLASS.IN : CLASS.NONE, ttl: add ? ttl : 0, rdata: txtRdata(value) };
  const unsigned = updateMessage(zone, [rec]);
  const msg = t.key ? signTsig(unsigned, t.key) : unsigned;
  const res = parseMessage(await exchange(t.nameserver, msg, t.timeoutMs ?? 10_000));
  if (res.rcode === 0) return;
  throw new DnsUpdateError(
    `nameserver ${t.nameserver} answered ${updateFailure(res)} to the update of ${name} TXT in zone ${zone}${updateHint(res)}`,
  );
}

const tsigErrorOf = (res: ParsedMessage): number => {
  const tsig = res.sections[2]?.find((r) => r.type === TYPE.TSIG);
  return tsig ? tsigError(tsig.rdata) : 0;
};

/** "REFUSED" or "NOTAUTH/BADKEY": the answer's RCODE, and the TSIG error when there is one. */
export function updateFailure(res: ParsedMessage): string {
  const terr = tsigErrorOf(res);
  return `${RCODE[res.rcode] ?? res.rcode}${terr ? `/${RCODE[terr] ?? terr}` : ''}`;
}

/** What a failed update's RCODE or TSIG error usually means. */
const TSIG_HINTS: Readonly<Record<number, string>> = {
  16: ': wrong TSIG secret',
  17: ': the nameserver does not know this TSIG key name/algorithm',
  18: ': clocks differ by more than 5 minutes',
};
const RCODE_HINTS: Readonly<Record<number, string>> = {
  5: ': the zone does not allow updates with this key (allow-update / update-policy)',
  9: ': not authoritative, or the TSIG key was refused',
};
export function updateHint(res: ParsedMessage): string {
  const terr = tsigErrorOf(res);
  return (terr ? TSIG_HINTS[terr] : undefined) ?? RCODE_HINTS[res.rcode] ?? '';
}

/** Adds one TXT value (other values at the name stay: a wildcard and its base name share one). */
export async function addTxt(t: Rfc2136Target, zone: string, name: string, value: string, ttl = 60): Promise<void> {
  await update(t, zone, name, value, true, ttl);
}
/** Deletes exactly that TXT value. */
export async function deleteTxt(t: Rfc2136Target, zone: string, name: string, value: string): Promise<void> {
  await update(t, zone, name, value, false, 0);
}

/** The TXT values at a name, asked of the nameserver itself (tests, and a self-check before answering a challenge). */
export async function txtValues(nameserver: string, name: string, timeoutMs = 10_000): Promise<string[]> {
  const answer = parseMessage(await exchange(nameserver, queryMessage(name, TYPE.TXT), timeoutMs));
  return (answer.sections[0] ?? [])
    .filter((r) => r.type === TYPE.TXT)
    .map((r) => {
      const parts: string[] = [];
      for (let i = 0; i < r.rdata.length; i += 1 + r.rdata.readUInt8(i))
        parts.push(r.rdata.subarray(i + 1, i + 1 + r.rdata.readUInt8(i)).toString('utf8'));
      return parts.join('');
    });
}
