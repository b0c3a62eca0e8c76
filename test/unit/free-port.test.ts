// freePort picks below the kernel's ephemeral range (an outgoing connection can never take the port
// between our check and the server's bind) and never hands the same port out twice in one process.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort, logTail } from '../harness/processes.ts';

const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/)[0]);

describe('freePort', () => {
  it('returns distinct bindable ports below the ephemeral range, even when asked concurrently', async () => {
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) {
      if (ephemeralLow > 12_000) expect(p).toBeLessThan(ephemeralLow);
      expect(p).toBeGreaterThanOrEqual(11_000);
      expect(p).toBeLessThan(30_000);
    }
    // each one can be bound now
    const p = ports[0]!;
    const srv = createServer();
    await new Promise<void>((r, j) => {
      srv.once('error', j);
      srv.listen(p, '127.0.0.1', r);
    });
    await new Promise<void>((r) => srv.close(() => r()));
  });

  it('skips a port something already listens on', async () => {
    const taken = await freePort();
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(taken, '127.0.0.1', r));
    try {
      const more = await Promise.all(Array.from({ length: 20 }, () => freePort()));
      expect(more).not.toContain(taken);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('logTail gives the last lines of a file, or says it cannot read it', () => {
    expect(logTail('/nonexistent/file.log')).toMatch(/cannot read/);
    expect(logTail('/proc/self/status', 2).split('\n').length).toBeLessThanOrEqual(3);
  });
});
