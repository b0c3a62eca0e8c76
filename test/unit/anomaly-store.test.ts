// The anomaly store (#16 item 4): one Event per new, unmuted finding; the gauge without muted ones;
// a finding that goes and comes back is announced again; two feeders; bounded.
import { describe, it, expect } from '@jest/globals';
import { Registry } from 'prom-client';
import { AnomalyStore } from '../../src/validation/anomaly-store.ts';
import type { AnomalyFinding } from '../../src/validation/anomaly-finding.ts';

const f = (anomaly: AnomalyFinding['anomaly'], namespace: string, name: string, kind = 'Secret'): AnomalyFinding => ({
  anomaly,
  namespace,
  kind,
  name,
  message: `${anomaly} on ${namespace}/${name}`,
});

function setup(o: { max?: number; annotations?: Record<string, Record<string, string>>; burst?: number } = {}) {
  const registry = new Registry();
  const clock = { t: 0 };
  const announced: string[] = [];
  const store = new AnomalyStore({
    registry,
    announce: async (x) => {
      announced.push(`${x.anomaly} ${x.namespace}/${x.name}`);
    },
    namespaceAnnotations: (ns) => o.annotations?.[ns],
    ...(o.max ? { maxFindings: o.max } : {}),
    ...(o.burst ? { eventBurst: o.burst } : {}),
    now: () => clock.t,
  });
  const series = async (): Promise<string[]> =>
    (await registry.getSingleMetric('machine_identity_anomalies')?.get())?.values
      .map((v) => `${v.labels.anomaly} ${v.labels.namespace}/${v.labels.name} ${v.labels.kind}`)
      .sort() ?? [];
  const dropped = async (): Promise<number> =>
    (await registry.getSingleMetric('machine_identity_anomalies_dropped')?.get())?.values[0]?.value ?? -1;
  return { store, announced, series, dropped, clock };
}

describe('AnomalyStore', () => {
  it('announces a finding once, however often it is fed, and shows it in the gauge', async () => {
    const s = setup();
    await s.store.setInventory([f('KeyReuse', 'a', 'x'), f('KeyReuse', 'a', 'x')]);
    await s.store.setInventory([f('KeyReuse', 'a', 'x')]);
    expect(s.announced).toEqual(['KeyReuse a/x']);
    expect(await s.series()).toEqual(['KeyReuse a/x Secret']);
  });

  it('a finding that disappears is forgotten and announced again when it comes back', async () => {
    const s = setup();
    await s.store.setInventory([f('KeyCopied', 'b', 'copy')]);
    await s.store.setInventory([]);
    expect(await s.series()).toEqual([]);
    await s.store.setInventory([f('KeyCopied', 'b', 'copy')]);
    expect(s.announced).toEqual(['KeyCopied b/copy', 'KeyCopied b/copy']);
  });

  it('muted findings are listed (with the reason) but raise no Event and no series', async () => {
    const s = setup({
      annotations: {
        quiet: { 'machineidentity.io/mute-anomalies': 'KeyReuse', 'machineidentity.io/mute-reason': 'shared lab key' },
      },
    });
    await s.store.setInventory([f('KeyReuse', 'quiet', 'x'), f('KeyCopied', 'quiet', 'x')]);
    expect(s.announced).toEqual(['KeyCopied quiet/x']);
    expect(await s.series()).toEqual(['KeyCopied quiet/x Secret']);
    expect(s.store.list().find((x) => x.anomaly === 'KeyReuse')).toMatchObject({
      muted: true,
      muteReason: 'shared lab key',
    });
  });

  it('a feeder cannot mute (only Namespace annotations count)', async () => {
    const s = setup();
    await s.store.setInventory([{ ...f('KeyReuse', 'a', 'x'), muted: true, muteReason: 'tenant says so' }]);
    expect(s.announced).toEqual(['KeyReuse a/x']);
    expect(s.store.list()[0]?.muted).toBeUndefined();
  });

  it('served findings per target: the same finding from two targets is one; it goes when the last target drops it', async () => {
    const s = setup();
    await s.store.setServed('t1', [f('WeakTLS', 'a', 'web', 'Service')]);
    await s.store.setServed('t2', [f('WeakTLS', 'a', 'web', 'Service'), f('NameMismatch', 'a', 'web', 'Service')]);
    expect(s.announced).toEqual(['WeakTLS a/web', 'NameMismatch a/web']);
    s.store.dropServed('t1');
    expect(await s.series()).toEqual(['NameMismatch a/web Service', 'WeakTLS a/web Service']);
    await s.store.setServed('t2', []);
    expect(await s.series()).toEqual([]);
    await s.store.setServed('t1', [f('WeakTLS', 'a', 'web', 'Service')]);
    expect(s.announced).toEqual(['WeakTLS a/web', 'NameMismatch a/web', 'WeakTLS a/web']);
  });

  it('inventory and served feeders do not overwrite each other', async () => {
    const s = setup();
    await s.store.setServed('t1', [f('UnknownCertificate', 'a', 'web', 'Service')]);
    await s.store.setInventory([f('ReissueLoop', 'a', 'web', 'MachineIdentity')]);
    await s.store.setInventory([]);
    expect(await s.series()).toEqual(['UnknownCertificate a/web Service']);
  });

  it('keeps at most maxFindings; the rest is counted', async () => {
    const s = setup({ max: 5 });
    await s.store.setInventory(Array.from({ length: 8 }, (_v, i) => f('KeyReuse', 'a', `s${i}`)));
    expect(s.store.list()).toHaveLength(5);
    expect(s.announced).toHaveLength(5);
    expect(await s.dropped()).toBe(3);
    await s.store.setServed('t', [f('WeakTLS', 'a', 'web', 'Service')]);
    expect(await s.dropped()).toBe(4);
    await s.store.setInventory([]);
    await s.store.setServed('t', [f('WeakTLS', 'a', 'web', 'Service')]);
    expect(await s.dropped()).toBe(0);
    expect(s.store.list()).toHaveLength(1);
  });

  it('10,000 findings fed again and again stay cheap; Events are paced (burst, then 2/s), none lost', async () => {
    const s = setup();
    const many = Array.from({ length: 10_000 }, (_v, i) => f('KeyReuse', `ns${i % 100}`, `s${i}`));
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await s.store.setInventory(many);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(s.announced).toHaveLength(50);
    expect(await s.series()).toHaveLength(10_000);
    s.clock.t += 10_000;
    await s.store.setInventory(many);
    expect(s.announced).toHaveLength(70);
    expect(new Set(s.announced).size).toBe(70);
  });

  it('a pending finding that goes away, or gets muted, is not announced later', async () => {
    const annotations: Record<string, Record<string, string>> = {};
    const s = setup({ burst: 1, annotations });
    await s.store.setInventory([f('KeyReuse', 'a', 'x'), f('KeyReuse', 'b', 'y'), f('KeyReuse', 'c', 'z')]);
    expect(s.announced).toEqual(['KeyReuse a/x']);
    annotations.c = { 'machineidentity.io/mute-anomalies': '*' };
    await s.store.setInventory([f('KeyReuse', 'a', 'x'), f('KeyReuse', 'c', 'z')]);
    s.clock.t += 5_000;
    await s.store.setInventory([f('KeyReuse', 'a', 'x'), f('KeyReuse', 'c', 'z')]);
    expect(s.announced).toEqual(['KeyReuse a/x']);
  });
});
