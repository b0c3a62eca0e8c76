// The inventory shares one copy of a certificate record found in many objects (docs/memory.md).
import { describe, it, expect } from '@jest/globals';
import { RecordInterner } from '../../src/inventory/intern.ts';
import type { CertRecord } from '../../src/inventory/cert-record.ts';

const rec = (key: string, fingerprintSHA256: string): CertRecord =>
  ({ key, fingerprintSHA256, subjectDN: 'CN=ca', dnsNames: [] }) as unknown as CertRecord;

describe('RecordInterner', () => {
  it('the same certificate under the same data key is one shared, frozen record; another key or certificate is not', () => {
    const i = new RecordInterner();
    const first = i.intern(rec('ca.crt', 'AA'));
    expect(i.intern(rec('ca.crt', 'AA'))).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(i.intern(rec('tls.crt#1', 'AA'))).not.toBe(first);
    expect(i.intern(rec('ca.crt', 'BB'))).not.toBe(first);
    expect(i.size).toBe(3);
  });
});
