// Pure decisions of the prober: what the first bytes of an answer say, what a socket or OpenSSL error
// means as a ProbeError, which server name may go into SNI, which addresses are dialable at all.
// Messages are built from error codes only, never from what the peer sent.
import { isIP } from 'node:net';
import type { ProbeError } from './types.ts';

/** Bytes a peer may send before the handshake completes (a certificate chain fits many times over). */
export const MAX_HANDSHAKE_BYTES = 256 * 1024;
/** Certificates recorded after the leaf; a peer presenting more is flagged by `presented` (see chainTruncated). */
export const MAX_CHAIN_RECORDED = 16;

/**
 * What the first bytes of an answer look like: a TLS record starts with a content type (change_cipher_spec,
 * alert, handshake, application_data: 20..23) and a legacy version 3.0..3.4. 'more' until three bytes are in.
 */
export function sniffTls(prefix: Uint8Array): 'tls' | 'not_tls' | 'more' {
  const [type, major, minor] = prefix;
  if (type === undefined) return 'more';
  if (type < 20 || type > 23) return 'not_tls';
  if (major === undefined) return 'more';
  if (major !== 3) return 'not_tls';
  if (minor === undefined) return 'more';
  return minor <= 4 ? 'tls' : 'not_tls';
}

const NOT_TLS_CODES = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_RECORD_LAYER_FAILURE',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_UNEXPECTED_RECORD',
]);
const OVER_BUDGET_CODES = new Set(['ERR_SSL_EXCESSIVE_MESSAGE_SIZE', 'ERR_SSL_DATA_LENGTH_TOO_LONG']);
const UNREACHABLE_CODES: Record<string, string> = {
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host down',
  ENETDOWN: 'network down',
  EADDRNOTAVAIL: 'address not available',
};

/** A socket or TLS error code as a ProbeError; `received` = bytes the peer sent before it. */
export function classifyError(code: string | undefined, received: number): { error: ProbeError; message: string } {
  const c = code ?? '';
  if (c === 'ECONNREFUSED') return { error: 'refused', message: 'connection refused' };
  if (c === 'ETIMEDOUT') return { error: 'timeout', message: 'connect timed out' };
  const unreachable = UNREACHABLE_CODES[c];
  if (unreachable) return { error: 'unreachable', message: unreachable };
  if (c === 'ECONNRESET' || c === 'EPIPE') {
    return received === 0
      ? { error: 'unreachable', message: 'connection closed before any answer' }
      : { error: 'tls_error', message: 'connection closed during the handshake' };
  }
  if (NOT_TLS_CODES.has(c)) return { error: 'not_tls', message: `not a TLS answer (${c})` };
  if (OVER_BUDGET_CODES.has(c)) return { error: 'over_budget', message: `handshake message too large (${c})` };
  return { error: 'tls_error', message: c ? `handshake failed (${safeCode(c)})` : 'handshake failed' };
}

/** Codes are Node/OpenSSL identifiers; keep them short and printable whatever happens. */
function safeCode(c: string): string {
  return c.replace(/[^A-Za-z0-9_/.-]/g, '?').slice(0, 80);
}

/** The server name to send: a host name; nothing for '', an IP literal or anything that is not a host name. */
export function servernameFor(sni: string): string | undefined {
  if (sni === '' || isIP(sni) !== 0 || sni.length > 253) return undefined;
  return /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(sni)
    ? sni
    : undefined;
}

/**
 * Why a request is not dialled, or undefined when it may be: the prober takes IP literals only (it never
 * resolves a name; which addresses are allowed is the address guard's decision) and a TCP port.
 */
export function requestProblem(req: { ip: string; port: number }): string | undefined {
  if (typeof req.ip !== 'string' || isIP(req.ip) === 0 || req.ip.includes('%')) return 'not an IP literal';
  if (!Number.isInteger(req.port) || req.port < 1 || req.port > 65535) return 'not a TCP port';
  return undefined;
}

/** True when the peer presented more certificates than the result records (leaf + MAX_CHAIN_RECORDED). */
export function chainTruncated(r: { presented: number; chain: readonly unknown[] }): boolean {
  return r.presented > 1 + r.chain.length;
}
