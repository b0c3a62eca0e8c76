// PEM scanning: linear, bounded, tolerant of whitespace and CRLF, strict about base64.

export const MAX_PEM_BYTES = 1024 * 1024;
export const MAX_PEM_BLOCKS = 100;

const BEGIN = '-----BEGIN ';
const DASHES = '-----';

/**
 * DER contents of every PEM block whose label is in `labels`, in order. Other blocks are skipped.
 * Throws on input over 1 MiB, more than 100 matching blocks, a block without its END line, or
 * a body that is not base64.
 */
export function pemBlocks(text: string, labels: readonly string[]): Buffer[] {
  if (typeof text !== 'string') throw new TypeError('PEM input must be a string');
  if (text.length > MAX_PEM_BYTES) throw new Error(`PEM input is too large (${text.length} bytes, limit ${MAX_PEM_BYTES})`);
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const begin = text.indexOf(BEGIN, pos);
    if (begin < 0) break;
    const labelStart = begin + BEGIN.length;
    const labelEnd = text.indexOf(DASHES, labelStart);
    if (labelEnd < 0) break;
    const label = text.slice(labelStart, labelEnd);
    pos = labelEnd + DASHES.length;
    if (!labels.includes(label)) continue;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, pos);
    const nextBegin = text.indexOf(BEGIN, pos);
    if (end < 0 || (nextBegin >= 0 && nextBegin < end)) throw new Error(`truncated PEM: BEGIN ${label} without END ${label}`);
    if (out.length >= MAX_PEM_BLOCKS) throw new Error(`too many ${label} PEM blocks (limit ${MAX_PEM_BLOCKS})`);
    const body = text.slice(pos, end).replace(/[ \t\r\n]+/g, '');
    if (body.length === 0 || body.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
      throw new Error(`invalid base64 in ${label} PEM block ${out.length + 1}`);
    }
    out.push(Buffer.from(body, 'base64'));
    pos = end + endMarker.length;
  }
  return out;
}

/** PEM text for DER bytes: 64-column base64, LF line ends, trailing newline. */
export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
