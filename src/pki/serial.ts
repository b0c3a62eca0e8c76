// Certificate serial numbers: random, positive, 128 bits (RFC 5280 4.1.2.2 allows up to 20 octets;
// CA/Browser Forum rules want at least 64 random bits).
import { randomBytes } from 'node:crypto';

/** 128 random bits, not all zero. */
export function randomSerialBytes(): Buffer {
  for (;;) {
    const b = randomBytes(16);
    if (b.some((x) => x !== 0)) return b;
  }
}

/** A random positive 128-bit serial number (hex); the DER encoder adds a 0x00 when the top bit is set. */
export function randomSerial(): string {
  return randomSerialBytes().toString('hex');
}
