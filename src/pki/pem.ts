// PEM, in one place: scanning (linear, bounded, tolerant of whitespace and CRLF, strict about
// base64), writing, and the few questions asked of PEM text before it is parsed.

const MAX_PEM_BYTES = 1024 * 1024;
const MAX_PEM_BLOCKS = 100;

const BEGIN = '-----BEGIN ';
const DASHES = '-----';

/** One BEGIN line: its label and where its body starts; undefined when there is none from `pos` on. */
function nextBegin(text: string, pos: number): { label: string; bodyStart: number } | undefined {
  const begin = text.indexOf(BEGIN, pos);
  if (begin < 0) return undefined;
  const labelStart = begin + BEGIN.length;
  const labelEnd = text.indexOf(DASHES, labelStart);
  if (labelEnd < 0) return undefined;
  return { label: text.slice(labelStart, labelEnd), bodyStart: labelEnd + DASHES.length };
}

/** The DER of the block whose body starts at `pos`, and where its END line ends. */
function blockAt(text: string, label: string, pos: number, index: number): { der: Buffer; next: number } {
  const endMarker = `-----END ${label}-----`;
  const end = text.indexOf(endMarker, pos);
  const nextBeginAt = text.indexOf(BEGIN, pos);
  if (end < 0 || (nextBeginAt >= 0 && nextBeginAt < end))
    throw new Error(`truncated PEM: BEGIN ${label} without END ${label}`);
  const body = text.slice(pos, end).replace(/[ \t\r\n]+/g, '');
  if (body.length === 0 || body.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
    throw new Error(`invalid base64 in ${label} PEM block ${index}`);
  }
  return { der: Buffer.from(body, 'base64'), next: end + endMarker.length };
}

/**
 * DER contents of every PEM block whose label is in `labels`, in order. Other blocks are skipped.
 * Throws on input over 1 MiB, more than `maxBlocks` (default 100) matching blocks, a block without
 * its END line, or a body that is not base64.
 */
export function pemBlocks(text: string, labels: readonly string[], maxBlocks = MAX_PEM_BLOCKS): Buffer[] {
  if (typeof text !== 'string') throw new TypeError('PEM input must be a string');
  if (text.length > MAX_PEM_BYTES)
    throw new Error(`PEM input is too large (${text.length} bytes, limit ${MAX_PEM_BYTES})`);
  const out: Buffer[] = [];
  let pos = 0;
  for (let b = nextBegin(text, pos); b; b = nextBegin(text, pos)) {
    pos = b.bodyStart;
    if (!labels.includes(b.label)) continue;
    if (out.length >= maxBlocks) throw new Error(`too many ${b.label} PEM blocks (limit ${maxBlocks})`);
    const block = blockAt(text, b.label, pos, out.length + 1);
    out.push(block.der);
    pos = block.next;
  }
  return out;
}

/** PEM text for DER bytes: 64-column base64, LF line ends, trailing newline. */
export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The label of the first BEGIN line (e.g. 'EC PRIVATE KEY'); undefined without one. */
export function firstPemLabel(text: string): string | undefined {
  return nextBegin(text, 0)?.label;
}

/** True when the text holds an encrypted private key: PKCS#8 ENCRYPTED PRIVATE KEY, or OpenSSL's legacy Proc-Type: 4,ENCRYPTED. */
export function hasEncryptedKey(text: string): boolean {
  return text.includes(`${BEGIN}ENCRYPTED PRIVATE KEY${DASHES}`) || /Proc-Type:\s*4,ENCRYPTED/.test(text);
}

/** True when the text or bytes contain a PEM BEGIN line (cheap sniffing before a parse). */
export function hasPemMarker(text: string | Uint8Array): boolean {
  return typeof text === 'string'
    ? text.includes(BEGIN)
    : Buffer.from(text.buffer, text.byteOffset, text.byteLength).includes(BEGIN);
}
