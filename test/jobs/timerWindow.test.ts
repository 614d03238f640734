import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ModuleTimers } from '../../src/jobs/ModuleTimers.ts';
import { indexKey, removeTimerWrites, setTimerWrites, timerValue, type TimerSpec } from '../../src/jobs/timerWrites.ts';
import { AT_PREFIX, timerKey } from '../../src/store/reservedKeys.ts';
import { TimerWindow } from '../../src/jobs/TimerWindow.ts';
import type { ModuleStore, Write } from '../../src/store/EngineStore.ts';
import { commitStaged } from '../../src/store/GuardedModuleStore.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';

let level: LevelStore | undefined;
afterEach(() => level?.close());

async function moduleState(): Promise<ModuleStore> {
  level = await LevelStore.open(mkdtempSync(join(tmpdir(), 'corral-window-')));
  return level.module('t');
}

/** Commits timers as the timers host would (index and count included); the writes, as `apply` hears them. */
async function setTimers(state: ModuleStore, timers: [string, TimerSpec][]): Promise<Write[]> {
  const writes: Write[] = [];
  await commitStaged(state, (tx) => {
    for (const [tag, spec] of timers) {
      for (const write of setTimerWrites(tag, spec, tx.get(timerKey(tag)), 0)) {
        writes.push(write);
        if (write.value === null) tx.delete(write.key);
        else tx.set(write.key, write.value);
      }
    }
    return true;
  });
  return writes;
}

const tags = (window: TimerWindow) => [...window.entries()].map((t) => t.tag);

describe('TimerWindow', () => {
  it("behavior: an index entry whose tag's key holds another timer (a reorg's undo restored the old entry and kept the move) is not held, when read or when written", async () => {
    const state = await moduleState();
    await setTimers(state, [['a', { at: 2_000 }], ['b', { at: 3_000 }]]);
    // The stale entry the undo restores: a at 500, while a's own key says 2,000.
    const stale: Write = { key: indexKey('a', { at: 500 }), value: timerValue({ at: 500 }) };
    await commitStaged(state, (tx) => (tx.set(stale.key, stale.value!), true));
    const window = new TimerWindow(state, AT_PREFIX, 8);
    await window.fill();
    expect([...window.entries()].map((t) => [t.tag, (t.spec as { at: number }).at])).toEqual([['a', 2_000], ['b', 3_000]]);
    window.apply([stale]);
    expect([...window.entries()].map((t) => [t.tag, (t.spec as { at: number }).at])).toEqual([['a', 2_000], ['b', 3_000]]);
  });

  it('default: holds the first `capacity` entries in due order and reads on from the store as they go', async () => {
    const state = await moduleState();
    await setTimers(state, Array.from({ length: 10 }, (_, i): [string, TimerSpec] => [`t${i}`, { at: 100 - i }]));
    const window = new TimerWindow(state, AT_PREFIX, 4);
    await window.fill();
    expect(tags(window)).toEqual(['t9', 't8', 't7', 't6']);
    expect(window.keysRead).toBe(4);
    // All four fire and are deleted: the window is low, and the next fill reads on past its end.
    const gone: Write[] = [];
    for (const t of [...window.entries()]) gone.push(...(await removeTimer(state, t.tag)));
    window.apply(gone);
    expect(window.low).toBe(true);
    await window.fill();
    expect(tags(window)).toEqual(['t5', 't4', 't3', 't2']);
    expect(window.keysRead).toBe(8);
  });

  it('behavior: a timer committed past the window is not held; one earlier than its end pushes the last one out', async () => {
    const state = await moduleState();
    await setTimers(state, Array.from({ length: 6 }, (_, i): [string, TimerSpec] => [`t${i}`, { at: 10 + i }]));
    const window = new TimerWindow(state, AT_PREFIX, 4);
    await window.fill();
    window.apply(await setTimers(state, [['late', { at: 1_000 }]]));
    expect(tags(window)).toEqual(['t0', 't1', 't2', 't3']);
    window.apply(await setTimers(state, [['early', { at: 1 }]]));
    expect(tags(window)).toEqual(['early', 't0', 't1', 't2']);
  });

  it('behavior: writes committed while a fill reads are replayed over what it read (a timer moved meanwhile is held once, at its new time)', async () => {
    const state = await moduleState();
    await setTimers(state, Array.from({ length: 8 }, (_, i): [string, TimerSpec] => [`t${i}`, { at: 10 + i }]));
    const window = new TimerWindow(state, AT_PREFIX, 4);
    await window.fill();
    const gone: Write[] = [];
    for (const tag of ['t0', 't1', 't2']) gone.push(...(await removeTimer(state, tag)));
    window.apply(gone);
    const filling = window.fill();
    // While it reads: t5 moves to the front, t6 is cancelled, a new one lands past the window.
    window.apply([...(await setTimers(state, [['t5', { at: 1 }]])), ...(await removeTimer(state, 't6')), ...(await setTimers(state, [['new', { at: 100 }]]))]);
    await filling;
    // Whether the read saw those commits or not, the window is a prefix of the stored order.
    const stored = ['t5', 't3', 't4', 't7', 'new'];
    expect(window.size).toBeGreaterThanOrEqual(3);
    expect(tags(window)).toEqual(stored.slice(0, window.size));
  });
});

describe('ModuleTimers', () => {
  it('behavior: timers stored before the index existed get it at the first start, and fire in due order', async () => {
    const state = await moduleState();
    await state.commit({ writes: [{ key: timerKey('b'), value: timerValue({ at: 20 }) }, { key: timerKey('a'), value: timerValue({ at: 30 }) }], sizeDelta: 0 });
    const timers = await ModuleTimers.load(state);
    expect(timers.dueAt(25, 10, () => false).map((t) => t.tag)).toEqual(['b']);
    expect(timers.next()).toBe(20);
  });
});

async function removeTimer(state: ModuleStore, tag: string): Promise<Write[]> {
  const writes: Write[] = [];
  await commitStaged(state, (tx) => {
    const previous = tx.get(timerKey(tag));
    if (!previous) return false;
    for (const write of removeTimerWrites(tag, previous, 1)) {
      writes.push(write);
      if (write.value === null) tx.delete(write.key);
      else tx.set(write.key, write.value);
    }
    return true;
  });
  return writes;
}
