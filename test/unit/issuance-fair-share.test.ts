import { describe, it, expect, jest, afterEach } from '@jest/globals';
import { FairShare, WAKE_TTL_MS } from '../../src/controllers/issuance/fair-share.ts';

afterEach(() => {
  jest.useRealTimers();
});

/** A FairShare whose wakes are recorded, on a clock the test moves. */
function share(workers: number): { f: FairShare; woken: string[]; clock: { t: number } } {
  const woken: string[] = [];
  const clock = { t: 0 };
  const f = new FairShare(
    workers,
    (k) => woken.push(k),
    () => clock.t,
  );
  return { f, woken, clock };
}

describe('FairShare', () => {
  it('keeps a quarter of the workers free for other authorities', () => {
    const f = new FairShare(8);
    expect(f.limit).toBe(6);
    for (let i = 0; i < 6; i++) expect(f.tryAcquire('slow')).toBe(true);
    expect(f.tryAcquire('slow')).toBe(false);
    expect(f.hasRoom('slow')).toBe(false);
    expect(f.hasRoom('fast')).toBe(true);
    for (let i = 0; i < 2; i++) expect(f.tryAcquire('fast')).toBe(true);
    f.release('slow');
    expect(f.tryAcquire('slow')).toBe(true);
  });

  it('always allows one in flight, even with one or two workers', () => {
    expect(new FairShare(2).limit).toBe(1);
    const f = new FairShare(1);
    expect(f.tryAcquire('a')).toBe(true);
    expect(f.tryAcquire('a')).toBe(false);
    f.release('a');
    f.release('a'); // extra releases never go negative
    expect(f.tryAcquire('a')).toBe(true);
  });

  it('a parked key is woken when a slot frees, and the slot is held for it', () => {
    const { f, woken } = share(2); // limit 1
    expect(f.tryAcquire('ca', 'ns/a')).toBe(true);
    f.park('ca', 'ns/b');
    f.park('ca', 'ns/b'); // parked once
    expect(f.parkedCount('ca')).toBe(1);
    expect(woken).toEqual([]);
    f.release('ca');
    expect(woken).toEqual(['ns/b']);
    expect(f.parkedCount('ca')).toBe(0);
    // the freed slot waits for ns/b: another key finds no room
    expect(f.hasRoom('ca', 'ns/c')).toBe(false);
    expect(f.tryAcquire('ca', 'ns/c')).toBe(false);
    expect(f.hasRoom('ca', 'ns/b')).toBe(true);
    expect(f.tryAcquire('ca', 'ns/b')).toBe(true);
    expect(f.tryAcquire('ca', 'ns/b')).toBe(false); // the wake is used up
  });

  it("wakes parked keys round-robin across namespaces: a noisy namespace's backlog does not delay a quiet one", () => {
    const { f, woken } = share(2);
    expect(f.tryAcquire('ca', 'noisy/0')).toBe(true);
    for (let i = 1; i <= 10_000; i++) f.park('ca', `noisy/${i}`);
    f.park('ca', 'quiet/one');
    f.release('ca');
    expect(f.tryAcquire('ca', woken.at(-1))).toBe(true);
    f.release('ca');
    expect(woken).toEqual(['noisy/1', 'quiet/one']);
  });

  it('parks per authority: a full authority does not hold up another', () => {
    const { f, woken } = share(2);
    expect(f.tryAcquire('slow', 'ns/a')).toBe(true);
    f.park('slow', 'ns/b');
    expect(f.tryAcquire('fast', 'ns/c')).toBe(true);
    f.release('fast');
    expect(woken).toEqual([]);
    f.release('slow');
    expect(woken).toEqual(['ns/b']);
  });

  it('a wake never used lapses after WAKE_TTL_MS and the slot goes to the next parked key', () => {
    jest.useFakeTimers();
    const { f, woken, clock } = share(2);
    expect(f.tryAcquire('ca', 'ns/a')).toBe(true);
    f.park('ca', 'ns/gone'); // its identity is deleted before it runs
    f.park('ca', 'ns/next');
    f.release('ca');
    expect(woken).toEqual(['ns/gone']);
    // nothing is in flight, nothing will release: the authority's timer recovers the slot
    clock.t += WAKE_TTL_MS;
    jest.advanceTimersByTime(WAKE_TTL_MS);
    expect(woken).toEqual(['ns/gone', 'ns/next']);
    expect(f.tryAcquire('ca', 'ns/next')).toBe(true);
    // the lapsed key may still come back and park again
    expect(f.tryAcquire('ca', 'ns/gone')).toBe(false);
  });

  it('a woken key whose reconcile ends without taking the slot hands it on at once (settle)', () => {
    const { f, woken } = share(2);
    expect(f.tryAcquire('ca', 'ns/a')).toBe(true);
    f.park('ca', 'ns/denied');
    f.park('ca', 'ns/next');
    f.release('ca');
    expect(woken).toEqual(['ns/denied']);
    const ticket = f.ticket(); // the woken key's reconcile starts
    expect(f.hasRoom('ca', 'ns/next')).toBe(false);
    f.settle('ns/denied', ticket); // ...and ends without an issuance (policy now denies it)
    expect(woken).toEqual(['ns/denied', 'ns/next']);
    expect(f.tryAcquire('ca', 'ns/next')).toBe(true);
    f.settle('ns/next', f.ticket()); // used its wake: nothing to hand on
    expect(woken).toEqual(['ns/denied', 'ns/next']);
  });

  it('settle keeps a wake issued after the reconcile started (it is for the next run of the key)', () => {
    const { f, woken } = share(2);
    expect(f.tryAcquire('ca', 'ns/a')).toBe(true);
    const ticket = f.ticket(); // ns/b's reconcile starts, finds no room and parks
    f.park('ca', 'ns/b');
    f.park('ca', 'ns/c');
    f.release('ca'); // another reconcile ends meanwhile: ns/b is woken
    expect(woken).toEqual(['ns/b']);
    f.settle('ns/b', ticket); // the run that parked it ends
    expect(f.hasRoom('ca', 'ns/c')).toBe(false);
    expect(f.tryAcquire('ca', 'ns/b')).toBe(true); // its next run takes the held slot
    expect(woken).toEqual(['ns/b']);
  });

  it('wakes as many parked keys as there are free slots, never more', () => {
    const { f, woken } = share(8); // limit 6
    for (let i = 0; i < 6; i++) expect(f.tryAcquire('ca', `ns/${i}`)).toBe(true);
    for (let i = 6; i < 20; i++) f.park('ca', `ns/${i}`);
    for (let i = 0; i < 3; i++) f.release('ca');
    expect(woken).toEqual(['ns/6', 'ns/7', 'ns/8']);
    expect(f.hasRoom('ca', 'ns/19')).toBe(false);
    expect(f.parkedCount('ca')).toBe(11);
  });

  it('keeps no state for an idle authority', () => {
    const { f } = share(4);
    expect(f.tryAcquire('ca', 'ns/a')).toBe(true);
    f.release('ca');
    expect((f as unknown as { shares: Map<string, unknown> }).shares.size).toBe(0);
  });
});
