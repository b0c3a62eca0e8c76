// The TLS farm (test/harness/tls-farm.ts) and the prober at scale: 2,000 addresses of a network namespace
// this test creates, probed with the default concurrency (16); prints probes/s, p99 handshake time and
// peak RSS. Needs root (ip netns). Only the farm's addresses are dialled.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { Prober } from '../../src/validation/prober.ts';
import type { ProbeResult } from '../../src/validation/types.ts';
import { cleanupFarm, FARM_NETNS, FARM_RANGE, farmAddresses, farmRange, startFarm } from '../harness/tls-farm.ts';
import type { TlsFarm } from '../harness/tls-farm.ts';
import { issue } from '../harness/tls-certs.ts';
import type { Issued } from '../harness/tls-certs.ts';

const pair = (c: Issued): { cert: string; key: string } => ({ cert: c.pem, key: c.keyPem });
const fp = (c: Issued): string => new X509Certificate(c.pem).fingerprint256;
const leafFp = (r: ProbeResult): string | undefined => (r.ok ? r.leaf.fingerprintSHA256 : undefined);

let farm: TlsFarm | undefined;
let prober: Prober | undefined;
let fallback: Issued;
let web: Issued;

beforeAll(async () => {
  fallback = await issue({ subject: 'CN=farm default', dnsNames: ['default.farm.test'] });
  web = await issue({ subject: 'CN=web.farm.test', dnsNames: ['web.farm.test'] });
  farm = await startFarm({ count: 2000, certs: { default: pair(fallback), byName: { 'web.farm.test': pair(web) } } });
  prober = new Prober({ concurrency: 16, timeoutMs: 5000, maxQueue: 2000 });
}, 60_000);
afterAll(async () => {
  await prober?.stop();
  await farm?.stop();
});

describe('TLS farm', () => {
  it('addresses: 10.250.0.1 upwards, skipping .0 and .255', () => {
    const a = farmAddresses(300);
    expect(a.slice(0, 2)).toEqual(['10.250.0.1', '10.250.0.2']);
    expect(a[253]).toBe('10.250.0.254');
    expect(a[254]).toBe('10.250.1.1');
    expect(() => farmAddresses(5000)).toThrow();
    // slot 1 (bench validate) shares no address, range or name with slot 0
    expect(farmAddresses(255, 1).slice(0, 1)).toEqual(['10.250.32.1']);
    expect(farmAddresses(255, 1)[254]).toBe('10.250.33.1');
    expect([farmRange(0), farmRange(1)]).toEqual([FARM_RANGE, '10.250.32.0/20']);
  });

  it('serves by SNI, the default otherwise, and new certificates after setCertificates', async () => {
    const f = farm as TlsFarm;
    const p = prober as Prober;
    const [a, b] = [f.addresses[0] ?? '', f.addresses[1999] ?? ''];
    expect(leafFp(await p.probe({ ip: a, port: f.port, sni: 'web.farm.test' }))).toBe(fp(web));
    expect(leafFp(await p.probe({ ip: b, port: f.port, sni: '' }))).toBe(fp(fallback));
    const renewed = await issue({ subject: 'CN=web.farm.test', dnsNames: ['web.farm.test'] });
    await f.setCertificates({ default: pair(fallback), byName: { 'web.farm.test': pair(renewed) } });
    expect(leafFp(await p.probe({ ip: b, port: f.port, sni: 'web.farm.test' }))).toBe(fp(renewed));
  });

  it('2,000 endpoints probed: figures', async () => {
    const f = farm as TlsFarm;
    const p = prober as Prober;
    const rss0 = process.memoryUsage().rss;
    let peakRss = rss0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
    const t0 = performance.now();
    const results = await Promise.all(f.addresses.map((ip) => p.probe({ ip, port: f.port, sni: 'web.farm.test' })));
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const failed = results.filter((r) => !r.ok);
    const durations = results.map((r) => r.durationMs).sort((x, y) => x - y);
    const q = (x: number): number => durations[Math.min(durations.length - 1, Math.floor(x * durations.length))] ?? 0;
    process.stdout.write(
      `tls-farm: ${results.length} probes (concurrency 16) in ${seconds.toFixed(2)} s = ${(results.length / seconds).toFixed(0)} probes/s; ` +
        `handshake p50 ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${q(1).toFixed(1)} ms; ` +
        `test process RSS ${(rss0 / 1024 / 1024).toFixed(0)} MB before, peak ${(peakRss / 1024 / 1024).toFixed(0)} MB; failed ${failed.length}\n`,
    );
    expect(failed).toEqual([]);
    expect(new Set(results.map(leafFp)).size).toBe(1);
  });

  it('stop removes the namespace, the veth pair and the route; cleanup is idempotent', async () => {
    await (prober as Prober).stop();
    prober = undefined;
    await (farm as TlsFarm).stop();
    farm = undefined;
    await cleanupFarm();
    expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(FARM_NETNS);
    expect(execFileSync('ip', ['route', 'show', FARM_RANGE]).toString()).toBe('');
    expect(execFileSync('ip', ['-br', 'link']).toString()).not.toContain('mio-farm');
  });

  it('a run that crashed leaves nothing in the way: setup deletes the leftovers first', async () => {
    const certs = { default: pair(fallback) };
    const crashed = await startFarm({ count: 10, certs }); // never stopped, as after a crash
    const again = await startFarm({ count: 10, certs });
    expect(() => process.kill(crashed.pid, 0)).toThrow(); // the old listener is gone
    const p = new Prober({ concurrency: 2, timeoutMs: 5000 });
    try {
      expect(leafFp(await p.probe({ ip: again.addresses[9] ?? '', port: again.port, sni: '' }))).toBe(fp(fallback));
    } finally {
      await p.stop();
      await again.stop();
    }
    expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(FARM_NETNS);
  });
});
