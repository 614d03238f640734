import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ShadowState, type StateHold } from '../../src/engine/ShadowState.ts';
import type { Bytes, ModuleStore, Write } from '../../src/store/EngineStore.ts';
import { GuardedModuleStore } from '../../src/store/GuardedModuleStore.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';
import { StateTransaction } from '../../src/store/StateTransaction.ts';

/**
 * ShadowState against a real LevelDB: a candidate's state, read (get and list) while later commits
 * write and delete the same keys (some still on their way to LevelDB), is exactly the state as it was
 * when the step's hold was taken, recorded then through `getSync` (what the live step itself reads).
 */
const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: Bytes) => Buffer.from(b).toString('latin1');
/** Two prefixes, so listings of one prefix have keys of the other around them. */
const UNIVERSE = [...Array.from({ length: 24 }, (_, i) => `a/${String(i).padStart(2, '0')}`), ...Array.from({ length: 12 }, (_, i) => `b/${String(i).padStart(2, '0')}`)];

/** A seeded generator (mulberry32): the same run every time. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let stores: LevelStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

async function guarded(): Promise<GuardedModuleStore> {
  const store = await LevelStore.open(mkdtempSync(join(tmpdir(), 'corral-shadow-state-')));
  stores.push(store);
  return new GuardedModuleStore(await store.module('m'));
}

/** The state as the live step sees it now: every key of the universe through `getSync`. */
function recorded(store: GuardedModuleStore): Map<string, string> {
  const state = new Map<string, string>();
  for (const key of UNIVERSE) {
    const value = store.getSync(enc(key));
    if (value !== undefined) state.set(key, text(value));
  }
  return state;
}

/** What listing `prefix` after `after`, `limit` at most, must give in `state`. */
function expectedListing(state: Map<string, string>, prefix: string, after: string | undefined, limit: number): string[] {
  return [...state.keys()].filter((k) => k.startsWith(prefix) && (after === undefined || k > after)).sort().slice(0, limit);
}

/** Reads everything the candidate can read of `hold`'s state (gets, and listings through a transaction) and compares. */
async function check(state: ShadowState, hold: StateHold, expected: Map<string, string>, next: () => number): Promise<void> {
  const reader = state.reader(hold);
  for (const key of UNIVERSE) {
    const value = reader.getSync(enc(key));
    expect(value === undefined ? undefined : text(value), key).toBe(expected.get(key));
  }
  for (let i = 0; i < 4; i++) {
    const prefix = next() < 0.5 ? 'a/' : next() < 0.5 ? 'b/' : '';
    const after = next() < 0.5 ? undefined : UNIVERSE[Math.floor(next() * UNIVERSE.length)];
    const limit = 1 + Math.floor(next() * 10);
    const listed = (await new StateTransaction(reader).listKeys(enc(prefix), after === undefined ? undefined : enc(after), limit)).map(text);
    expect(listed, `list ${prefix} after ${after} limit ${limit}`).toEqual(expectedListing(expected, prefix, after, limit));
  }
}

describe('shadow state (pre-images)', () => {
  it('behavior: a held state reads (get and list) as it was when held, while later commits, durable or not, write and delete its keys', async () => {
    const store = await guarded();
    const state = new ShadowState(store);
    const next = random(25);
    // Something to start from: half the universe.
    await store.commit({ writes: UNIVERSE.filter((_, i) => i % 2 === 0).map((k) => ({ key: enc(k), value: enc(`v0-${k}`) })), sizeDelta: 0 });
    const commitSome = (round: number): Promise<void> => {
      const writes = new Map<string, Write>();
      for (let n = 1 + Math.floor(next() * 5); n > 0; n--) {
        const key = UNIVERSE[Math.floor(next() * UNIVERSE.length)]!;
        writes.set(key, { key: enc(key), value: next() < 0.4 ? null : enc(`v${round}-${key}`) });
      }
      return store.commit({ writes: [...writes.values()], sizeDelta: 0 });
    };
    let checked = 0;
    const held: { hold: StateHold; expected: Map<string, string> }[] = [];
    const inFlight: Promise<void>[] = [];
    for (let round = 1; round <= 300; round++) {
      // Commits are asked for and not awaited: the next hold and reads see some of them on their way.
      inFlight.push(commitSome(round));
      if (next() < 0.3) {
        // Held and recorded at the same moment, some commits asked for before it not yet applied.
        held.push({ hold: state.hold(), expected: recorded(store) });
      }
      if (held.length > 0 && next() < 0.25) {
        // Checked while more commits are asked for during its listings.
        const { hold, expected } = held.splice(Math.floor(next() * held.length), 1)[0]!;
        const reading = check(state, hold, expected, next);
        inFlight.push(commitSome(round), commitSome(round));
        await reading;
        state.release(hold);
        checked++;
      }
      if (inFlight.length > 20) await Promise.all(inFlight.splice(0));
    }
    for (const { hold, expected } of held.splice(0)) {
      await check(state, hold, expected, next);
      state.release(hold);
      checked++;
    }
    await Promise.all(inFlight);
    expect(checked).toBeGreaterThan(50);
    // Nothing held, nothing kept.
    expect(state.heard).toBe(0);
  });

  it('behavior: a listing the store answers after commits that add keys ahead of the held ones is asked again with room for them', async () => {
    const level = await (async () => {
      const store = await LevelStore.open(mkdtempSync(join(tmpdir(), 'corral-shadow-state-')));
      stores.push(store);
      return store.module('m');
    })();
    // The module's LevelDB store, whose listings wait for `gate`: commits land between the listing's
    // start (its room counted) and the moment LevelDB lists.
    let gate: Promise<void> | undefined;
    const inner: ModuleStore = Object.assign(Object.create(level) as ModuleStore, {
      keys: (range: Parameters<ModuleStore['keys']>[0]) =>
        (async function* () {
          await gate;
          yield* level.keys(range);
        })(),
    });
    const store = new GuardedModuleStore(inner);
    const state = new ShadowState(store);
    const writes = (keys: string[]) => ({ writes: keys.map((k) => ({ key: enc(k), value: enc('v') })), sizeDelta: 0 });
    await store.commit(writes(['a/05', 'a/06', 'a/07', 'a/08', 'a/09']));
    const hold = state.hold();
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    const listing = new StateTransaction(state.reader(hold)).listKeys(enc('a/'), undefined, 3);
    await store.commit(writes(['a/00', 'a/01', 'a/02', 'a/03', 'a/04']));
    open();
    expect((await listing).map(text)).toEqual(['a/05', 'a/06', 'a/07']);
    state.release(hold);
  });

  it('behavior: pre-images are kept only while a held state needs them', async () => {
    const store = await guarded();
    const state = new ShadowState(store);
    const put = (key: string, value: string) => store.commit({ writes: [{ key: enc(key), value: enc(value) }], sizeDelta: 0 });
    await put('a/1', 'x');
    expect(state.heard).toBe(0);
    const first = state.hold();
    await put('a/1', 'y');
    const second = state.hold();
    await put('a/1', 'z');
    expect(state.heard).toBe(2);
    // The earlier hold goes: the commit only it needed goes too.
    state.release(first);
    expect(state.heard).toBe(1);
    expect(text(state.reader(second).getSync(enc('a/1'))!)).toBe('y');
    state.release(second);
    expect(state.heard).toBe(0);
    // No hold: commits are not heard.
    await put('a/1', 'w');
    expect(state.heard).toBe(0);
  });
});
