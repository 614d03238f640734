/**
 * The store behaviours the engine relies on, run on every backend (test/store/backends.ts): the same
 * test, so LevelDB and PostgreSQL cannot drift apart. "After reopen" closes the store (every commit so
 * far is durable) and opens it again on the same data, as a restart does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cronName, lastTicks, recordTick } from '../../src/jobs/CronScheduler.ts';
import { deadJobs, pendingJobs, pruneDead, purgeDead, retryDead } from '../../src/jobs/deadLetters.ts';
import { encodeJob, type Job } from '../../src/jobs/Job.ts';
import { listTimers } from '../../src/jobs/ModuleTimers.ts';
import { setTimerWrites, type TimerSpec } from '../../src/jobs/timerWrites.ts';
import { TimerWindow } from '../../src/jobs/TimerWindow.ts';
import type { Bytes, Commit, EngineStore, ModuleStore, StoredBreaker, Write } from '../../src/store/EngineStore.ts';
import { commitStaged, GuardedModuleStore } from '../../src/store/GuardedModuleStore.ts';
import { ReorgMarks } from '../../src/store/ReorgMarks.ts';
import { AT_PREFIX, deadKey, jobKey } from '../../src/store/reservedKeys.ts';
import { StateTransaction } from '../../src/store/StateTransaction.ts';
import { backends, type OpenedBackend } from './backends.ts';
import { blockCommit, undoThroughInvocation } from './twoChainStore.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
const w = (key: string, value: string | null): Write => ({ key: enc(key), value: value === null ? null : enc(value) });
const hexOf = (value: Bytes | undefined) => (value === undefined ? undefined : Buffer.from(value).toString('hex'));
const hex = (keys: Bytes[]) => keys.map(hexOf);
const bytes = (...b: number[]) => Uint8Array.from(b);

async function listed(state: ModuleStore, range: Parameters<ModuleStore['keys']>[0]): Promise<Bytes[]> {
  const out: Bytes[] = [];
  for await (const key of state.keys(range)) out.push(Uint8Array.from(key));
  return out;
}

/** Every key and value of a module, as text, in key order. */
async function contents(state: ModuleStore): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of await listed(state, { limit: -1 })) out[dec(key)!] = dec(state.getSync(key))!;
  return out;
}

describe.each(backends)('store conformance: $name', (backend) => {
  let opened: OpenedBackend | undefined;
  afterEach(async () => {
    await opened?.close();
    opened = undefined;
  });
  const open = async (): Promise<EngineStore> => (opened = await backend.open()).store;
  const reopen = (): Promise<EngineStore> => opened!.reopen();

  describe('commit', () => {
    it('default: writes, deletes, cursor, stored size and journal record of one commit are there after reopen, all of them', async () => {
      let store = await open();
      let m = await store.module('m');
      await m.commit({ writes: [w('a', '1'), w('b', '2'), w('gone', 'x')], sizeDelta: 7 });
      const record = { number: 10n, hash: '0x10', prev: { number: 9n, hash: '0x09' }, payload: { logs: ['l1'] } };
      await m.commit({ writes: [w('a', 'A'), w('gone', null), w('c', '3')], sizeDelta: -3, cursor: { source: 'chain:1', value: { number: '10', hash: '0x10' } }, journal: { chainId: 1n, record } });
      const expected = async (state: ModuleStore) => {
        expect(await contents(state)).toEqual({ a: 'A', b: '2', c: '3' });
        expect(dec(await state.get(enc('a')))).toBe('A');
        expect(await state.get(enc('gone'))).toBeUndefined();
        expect(state.storedBytes).toBe(4);
        expect(await state.cursor('chain:1')).toEqual({ number: '10', hash: '0x10' });
        expect(await state.cursor('custom')).toBeUndefined();
        expect(await state.journal(1n)).toEqual([{ ...record, undo: [w('a', '1'), w('gone', 'x'), w('c', null)] }]);
      };
      await expected(m);
      store = await reopen();
      m = await store.module('m');
      await expected(m);
    });

    it('error: a commit that fails (its cursor cannot be stored) leaves nothing of it, in memory or after reopen', async () => {
      let store = await open();
      let m = await store.module('m');
      await m.commit({ writes: [w('k', 'old')], sizeDelta: 4, cursor: { source: 'custom', value: { seq: 1 } } });
      const failing: Commit = {
        writes: [w('k', 'new'), w('other', 'x')],
        sizeDelta: 6,
        cursor: { source: 'custom', value: { seq: 2n } }, // a bigint: JSON cannot hold it
        journal: { chainId: 1n, record: { number: 5n, hash: '0x5', prev: { number: 4n, hash: '0x4' }, payload: [] } },
      };
      await expect(m.commit(failing)).rejects.toThrow();
      const unchanged = async (state: ModuleStore) => {
        expect(await contents(state)).toEqual({ k: 'old' });
        expect(state.storedBytes).toBe(4);
        expect(await state.cursor('custom')).toEqual({ seq: 1 });
        expect(await state.journal(1n)).toEqual([]);
      };
      await unchanged(m);
      store = await reopen();
      m = await store.module('m');
      await unchanged(m);
    });

    it('behavior: bookkeeping writes commit with the writes but stay out of the undo record; the later of two writes of a key wins', async () => {
      let store = await open();
      let m = await store.module('m');
      await m.commit({ writes: [w('k', '0')], sizeDelta: 2 });
      const record = { number: 3n, hash: '0x3', prev: { number: 2n, hash: '0x2' }, payload: [] };
      await m.commit({ writes: [w('k', '1')], bookkeeping: [w('mark', 'm'), w('k', 'booked')], sizeDelta: 5, journal: { chainId: 7n, record } });
      store = await reopen();
      m = await store.module('m');
      expect(await contents(m)).toEqual({ k: 'booked', mark: 'm' });
      expect((await m.journal(7n))[0]!.undo).toEqual([w('k', '0')]);
    });

    it('behavior: commits of one module asked for together (through the guard, as the engine commits) apply in the order asked', async () => {
      let store = await open();
      const m = new GuardedModuleStore(await store.module('m'));
      await Promise.all(Array.from({ length: 20 }, (_, i) => m.commit({ writes: [w('k', String(i)), w(`k${String(i).padStart(2, '0')}`, 'x')], sizeDelta: 1, cursor: { source: 'custom', value: { seq: i } } })));
      expect(dec(m.getSync(enc('k')))).toBe('19');
      store = await reopen();
      const again = await store.module('m');
      expect(dec(again.getSync(enc('k')))).toBe('19');
      expect(await again.cursor('custom')).toEqual({ seq: 19 });
      expect(again.storedBytes).toBe(20);
      expect(Object.keys(await contents(again))).toHaveLength(21);
    });

    it('behavior: every source keeps its own cursor; cursors() gives them all', async () => {
      let store = await open();
      let m = await store.module('m');
      await m.commit({ writes: [], sizeDelta: 0, cursor: { source: 'chain:1', value: { number: '5', hash: '0x5' } } });
      await m.commit({ writes: [], sizeDelta: 0, cursor: { source: 'chain:100', value: { number: '7', hash: '0x7' } } });
      await m.commit({ writes: [], sizeDelta: 0, cursor: { source: 'custom', value: { seq: 3 } } });
      await m.commit({ writes: [], sizeDelta: 0, cursor: { source: 'chain:1', value: { number: '6', hash: '0x6' } } });
      store = await reopen();
      m = await store.module('m');
      expect(await m.cursors()).toEqual({ 'chain:1': { number: '6', hash: '0x6' }, 'chain:100': { number: '7', hash: '0x7' }, custom: { seq: 3 } });
    });
  });

  describe('modules', () => {
    it('default: two modules hold the same keys apart: values, deletes, cursors, sizes and journals', async () => {
      let store = await open();
      const [a, b] = [await store.module('alpha'), await store.module('beta')];
      await a.commit({ writes: [w('k', 'a'), w('only-a', '1')], sizeDelta: 10, cursor: { source: 'custom', value: { seq: 1 } }, ...blockCommit(1n, 10n) });
      await b.commit({ writes: [w('k', 'b')], sizeDelta: 2, cursor: { source: 'custom', value: { seq: 9 } } });
      await b.commit({ writes: [w('k', null)], sizeDelta: -2 });
      const check = async (s: EngineStore) => {
        const [a2, b2] = [await s.module('alpha'), await s.module('beta')];
        expect(await contents(a2)).toEqual({ k: 'a', 'only-a': '1' });
        expect(await contents(b2)).toEqual({});
        expect([a2.storedBytes, b2.storedBytes]).toEqual([10, 0]);
        expect(await b2.journal(1n)).toEqual([]);
        expect(await a2.journal(1n)).toHaveLength(1);
        expect(await b2.cursors()).toEqual({ custom: { seq: 9 } });
        expect(await a2.cursors()).toEqual({ 'chain:1': {} });
        expect((await s.moduleNames()).sort()).toEqual(['alpha', 'beta']);
      };
      await check(store);
      store = await reopen();
      await check(store);
    });

    it('behavior: module(name) twice gives the same module, with what was committed', async () => {
      const store = await open();
      const first = await store.module('m');
      await first.commit({ writes: [w('k', 'v')], sizeDelta: 2 });
      const again = await store.module('m');
      expect(dec(again.getSync(enc('k')))).toBe('v');
      expect(again.storedBytes).toBe(2);
    });
  });

  describe('keys', () => {
    // Byte order, not text order: 0x00 sorts first, a prefix before its extensions, 0xff last.
    const ordered = [bytes(0x00), bytes(0x00, 0x00), bytes(0x01), bytes(0x61), bytes(0x61, 0x00), bytes(0x61, 0x62), bytes(0x62), bytes(0x7f), bytes(0x80), bytes(0xfe, 0xff), bytes(0xff), bytes(0xff, 0x00), bytes(0xff, 0xff, 0xff)];

    async function filled(): Promise<ModuleStore> {
      await open();
      const m = await opened!.store.module('m');
      // Committed in reverse, with a neighbour module's keys interleaved: order and isolation come from the store.
      await m.commit({ writes: [...ordered].reverse().map((key) => ({ key, value: bytes(1) })), sizeDelta: 0 });
      await (await opened!.store.module('n')).commit({ writes: [{ key: bytes(0x61, 0x61), value: bytes(1) }], sizeDelta: 0 });
      return m;
    }

    it('default: all keys in byte order with limit -1, after reopen too', async () => {
      let m = await filled();
      expect(hex(await listed(m, { limit: -1 }))).toEqual(hex(ordered));
      m = await (await reopen()).module('m');
      expect(hex(await listed(m, { limit: -1 }))).toEqual(hex(ordered));
    });

    it('args: gt, gte and lt bound the range; limit caps it; limit 0 gives nothing', async () => {
      const m = await filled();
      expect(hex(await listed(m, { gte: bytes(0x61), lt: bytes(0x62), limit: -1 }))).toEqual(['61', '6100', '6162']);
      expect(hex(await listed(m, { gt: bytes(0x61), lt: bytes(0x62), limit: -1 }))).toEqual(['6100', '6162']);
      expect(hex(await listed(m, { gt: bytes(0x61), limit: 2 }))).toEqual(['6100', '6162']);
      expect(hex(await listed(m, { gte: bytes(0xff), limit: -1 }))).toEqual(['ff', 'ff00', 'ffffff']);
      expect(hex(await listed(m, { lt: bytes(0x00, 0x00), limit: 10 }))).toEqual(['00']);
      expect(hex(await listed(m, { gte: bytes(0x80), lt: bytes(0x80), limit: -1 }))).toEqual([]);
      expect(hex(await listed(m, { limit: 3 }))).toEqual(['00', '0000', '01']);
      expect(await listed(m, { limit: 0 })).toEqual([]);
    });

    it('behavior: deleted keys are not listed; a write of a listed key does not list it twice', async () => {
      const m = await filled();
      await m.commit({ writes: [{ key: bytes(0x61, 0x00), value: null }, { key: bytes(0x61), value: bytes(2) }], sizeDelta: 0 });
      expect(hex(await listed(m, { gte: bytes(0x61), lt: bytes(0x62), limit: -1 }))).toEqual(['61', '6162']);
      expect(hexOf(m.getSync(bytes(0x61)))).toBe('02');
      expect(m.getSync(bytes(0x61, 0x00))).toBeUndefined();
    });

    it('behavior: keys and values are bytes: empty values, every byte value, large values come back as they went in', async () => {
      let m = await (await open()).module('m');
      const every = Uint8Array.from({ length: 256 }, (_, i) => i);
      const large = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31) & 0xff);
      await m.commit({ writes: [{ key: every, value: new Uint8Array() }, { key: bytes(1), value: every }, { key: bytes(2), value: large }], sizeDelta: 0 });
      m = await (await reopen()).module('m');
      expect(hexOf(m.getSync(every))).toBe('');
      expect(hexOf(m.getSync(bytes(1)))).toBe(hexOf(every));
      expect(hexOf(m.getSync(bytes(2)))).toBe(hexOf(large));
      expect(hexOf(await m.get(bytes(2)))).toBe(hexOf(large));
    });
  });

  describe('stored size', () => {
    it('default: size changes add up across commits and modules, and survive reopen', async () => {
      let store = await open();
      const a = await store.module('a');
      const b = await store.module('b');
      await a.commit({ writes: [w('k', 'v'.repeat(100))], sizeDelta: 101 });
      await a.commit({ writes: [w('j', 'v')], sizeDelta: 2 });
      await b.commit({ writes: [w('k', 'v')], sizeDelta: 2 });
      await a.commit({ writes: [w('k', null)], sizeDelta: -101 });
      expect([a.storedBytes, b.storedBytes]).toEqual([2, 2]);
      store = await reopen();
      expect([(await store.module('a')).storedBytes, (await store.module('b')).storedBytes, (await store.module('fresh')).storedBytes]).toEqual([2, 2, 0]);
    });

    it('behavior: the size of a commit made through a transaction is the bytes of its keys and values', async () => {
      let m = await (await open()).module('m');
      await commitStaged(m, (tx) => (tx.set(enc('key'), enc('value')), tx.set(enc('k2'), new Uint8Array(1000)), true));
      await commitStaged(m, (tx) => (tx.set(enc('key'), enc('v')), true));
      expect(m.storedBytes).toBe(3 + 1 + 2 + 1000);
      m = await (await reopen()).module('m');
      expect(m.storedBytes).toBe(1006);
    });
  });

  describe('journal', () => {
    const record = (number: bigint, payload: unknown = []) => ({ number, hash: `0x${number}`, prev: { number: number - 1n, hash: `0x${number - 1n}`, ...(number === 1n ? { origin: true as const } : {}) }, payload });

    it('default: entries per chain, oldest first, with the undo against committed state; remove drops them; after reopen too', async () => {
      let m = await (await open()).module('m');
      await m.commit({ writes: [w('k', '1')], sizeDelta: 2, journal: { chainId: 1n, record: record(1n, { logs: [{ i: 0 }] }) } });
      await m.commit({ writes: [w('k', '2'), w('j', '2')], sizeDelta: 2, journal: { chainId: 1n, record: record(2n) } });
      await m.commit({ writes: [w('k', null)], sizeDelta: -2, journal: { chainId: 1n, record: record(3n) } });
      await m.commit({ writes: [w('x', 'b')], sizeDelta: 2, journal: { chainId: 2n, record: record(2n ** 40n) } });
      // A chain id past 2^53 keeps its own journal.
      await m.commit({ writes: [w('y', 'c')], sizeDelta: 2, journal: { chainId: 2n ** 62n, record: record(7n) } });
      m = await (await reopen()).module('m');
      expect(await m.journal(1n)).toEqual([
        { ...record(1n, { logs: [{ i: 0 }] }), undo: [w('k', null)] },
        { ...record(2n), undo: [w('k', '1'), w('j', null)] },
        { ...record(3n), undo: [w('k', '2')] },
      ]);
      expect((await m.journal(2n)).map((e) => e.number)).toEqual([2n ** 40n]);
      expect((await m.journal(2n ** 62n)).map((e) => e.number)).toEqual([7n]);
      expect(await m.journal(3n)).toEqual([]);
      await m.commit({ writes: [], sizeDelta: 0, journal: { chainId: 1n, record: record(4n), remove: [1n, 2n] } });
      expect((await m.journal(1n)).map((e) => e.number)).toEqual([3n, 4n]);
      m = await (await reopen()).module('m');
      expect((await m.journal(1n)).map((e) => e.number)).toEqual([3n, 4n]);
      expect((await m.journal(2n)).map((e) => e.number)).toEqual([2n ** 40n]);
    });

    it('behavior: rebase rewrites one key of another entry\'s undo, in the same commit; a rebase of a pruned entry is skipped', async () => {
      let m = await (await open()).module('m');
      await m.commit({ writes: [w('k', 'a'), w('j', 'a')], sizeDelta: 4, journal: { chainId: 1n, record: record(10n) } });
      await m.commit({ writes: [w('k', 'b')], sizeDelta: 0, journal: { chainId: 2n, record: record(500n) } });
      await m.commit({
        writes: [w('z', 'z')],
        sizeDelta: 2,
        rebase: [
          { chainId: 2n, number: 500n, key: enc('k'), value: null },
          { chainId: 1n, number: 99n, key: enc('k'), value: enc('nowhere') }, // no such entry
        ],
      });
      const check = async (state: ModuleStore) => {
        expect((await state.journal(2n))[0]!.undo).toEqual([w('k', null)]);
        expect((await state.journal(1n)).map((e) => [e.number, e.undo])).toEqual([[10n, [w('k', null), w('j', null)]]]);
        expect(dec(state.getSync(enc('z')))).toBe('z');
      };
      await check(m);
      m = await (await reopen()).module('m');
      await check(m);
    });
  });

  describe('undo on a reorg', () => {
    /**
     * Blocks 1…30 of chain 1, each writing its own key, rewriting `shared` and deleting the key of the
     * block three before; the undo of the last `depth` blocks, newest first, through the invocation step
     * as the engine runs it (with a reopen in the middle): the state is the state after the block before them.
     */
    it.each([1, 5, 20])('behavior: a reorg of depth %i restores the state, size and journal from before its blocks, across a reopen', async (depth) => {
      const chainId = 1n;
      const blocks = 30;
      await open();
      const build = async () => {
        const state = await opened!.store.module('m');
        const marks = await ReorgMarks.open(state, [chainId]);
        return { marks, store: new GuardedModuleStore(marks) };
      };
      let chain = await build();
      const snapshots: { contents: Record<string, string>; storedBytes: number }[] = [];
      for (let n = 1; n <= blocks; n++) {
        snapshots.push({ contents: await contents(chain.store), storedBytes: chain.store.storedBytes });
        const tx = new StateTransaction(chain.store);
        tx.set(enc(`b${String(n).padStart(2, '0')}`), enc(`v${n}`));
        tx.set(enc('shared'), enc(`s${n}`));
        if (n > 3) tx.delete(enc(`b${String(n - 3).padStart(2, '0')}`));
        await chain.store.commit({ writes: tx.writes(), sizeDelta: tx.sizeDelta, ...blockCommit(chainId, BigInt(n)) });
      }
      for (let n = blocks; n > blocks - depth; n--) {
        if (n === blocks - Math.floor(depth / 2)) {
          await reopen();
          chain = await build();
        }
        const entry = (await chain.store.journal(chainId)).find((e) => e.number === BigInt(n))!;
        expect(await undoThroughInvocation(chain, chainId, entry)).toMatchObject({ kept: [] });
      }
      const before = snapshots[blocks - depth]!;
      expect(await contents(chain.store)).toEqual(before.contents);
      expect(chain.store.storedBytes).toBe(before.storedBytes);
      expect((await chain.store.journal(chainId)).map((e) => e.number)).toEqual(Array.from({ length: blocks - depth }, (_, i) => BigInt(i + 1)));
      await reopen();
      chain = await build();
      expect(await contents(chain.store)).toEqual(before.contents);
      expect(chain.store.storedBytes).toBe(before.storedBytes);
    });
  });

  describe('jobs, timers, cron, dead letters, breakers', () => {
    const job = (id: string, extra: Partial<Job> = {}): Job => ({ id, module: 'm', type: 'module:m:work', version: 'v1', payload: `{"n":"${id}"}`, enqueuedBy: { event: 'custom', cursor: { seq: 1 } }, enqueuedAt: 1_000, runAt: 2_000, attempts: 0, maxRetry: 3, ...extra });

    it('default: pending jobs and dead letters survive a reopen; a retry moves a dead letter back in one commit; prune and purge delete', async () => {
      let m = await (await open()).module('m');
      await commitStaged(m, (tx) => {
        tx.set(jobKey('a'), encodeJob(job('a')));
        tx.set(jobKey('b'), encodeJob(job('b', { runAt: 5_000 })));
        for (const [id, deadAt] of [['d1', 10_000], ['d2', 20_000], ['d3', 30_000]] as const) tx.set(deadKey(id), encodeJob(job(id, { attempts: 4, lastError: `${id} failed`, deadAt })));
        return true;
      });
      const size = m.storedBytes;
      m = await (await reopen()).module('m');
      expect(m.storedBytes).toBe(size);
      expect((await pendingJobs(m)).map((j) => j.id)).toEqual(['a', 'b']);
      expect(await deadJobs(m)).toEqual([job('d1', { attempts: 4, lastError: 'd1 failed', deadAt: 10_000 }), expect.objectContaining({ id: 'd2' }), expect.objectContaining({ id: 'd3' })]);
      await retryDead(m, 'd2', 40_000);
      m = await (await reopen()).module('m');
      expect((await pendingJobs(m)).map((j) => [j.id, j.attempts, j.runAt])).toEqual([['a', 0, 2_000], ['b', 0, 5_000], ['d2', 0, 40_000]]);
      expect((await deadJobs(m)).map((j) => j.id)).toEqual(['d1', 'd3']);
      expect(await pruneDead(m, { maxCount: 1, maxAgeMs: 1_000_000 }, 40_000)).toEqual({ deleted: 1, kept: 1 });
      m = await (await reopen()).module('m');
      expect((await deadJobs(m)).map((j) => j.id)).toEqual(['d3']);
      expect(await purgeDead(m)).toBe(1);
      m = await (await reopen()).module('m');
      expect(await deadJobs(m)).toEqual([]);
      await commitStaged(m, (tx) => (tx.delete(jobKey('a')), tx.delete(jobKey('b')), tx.delete(jobKey('d2')), true));
      m = await (await reopen()).module('m');
      expect(await pendingJobs(m)).toEqual([]);
      expect(m.storedBytes).toBe(0);
    });

    it('default: timers survive a reopen, listed by tag and read by the timer window in due order', async () => {
      let m = await (await open()).module('t');
      const timers: [string, TimerSpec][] = [['late', { at: 3_000 }], ['early', { at: 1_000 }], ['block', { chain: '1', block: '50' }], ['mid', { at: 2_000 }]];
      await commitStaged(m, (tx) => {
        timers.forEach(([tag, spec], count) => {
          for (const { key, value } of setTimerWrites(tag, spec, undefined, count)) if (value !== null) tx.set(key, value);
        });
        return true;
      });
      m = await (await reopen()).module('t');
      expect((await listTimers(m)).map((t) => t.tag).sort()).toEqual(['block', 'early', 'late', 'mid']);
      const window = new TimerWindow(m, AT_PREFIX, 2);
      await window.fill();
      expect([...window.entries()].map((t) => t.tag)).toEqual(['early', 'mid']);
    });

    it("default: a cron trigger's last tick commits with the event and survives a reopen", async () => {
      let m = await (await open()).module('c');
      const triggers = [{ kind: 'cron' as const, schedule: '* * * * *', name: 'minutely' }, { kind: 'cron' as const, schedule: '0 * * * *' }];
      expect(await lastTicks(m, triggers)).toEqual(new Map());
      const tx = new StateTransaction(m);
      recordTick(tx, { name: cronName(triggers[0]!), tick: 60_000 });
      recordTick(tx, { name: cronName(triggers[1]!), tick: 3_600_000 });
      await m.commit({ writes: tx.writes(), sizeDelta: tx.sizeDelta, cursor: { source: 'custom', value: { seq: 1 } } });
      const tx2 = new StateTransaction(m);
      recordTick(tx2, { name: 'minutely', tick: 120_000 });
      await m.commit({ writes: tx2.writes(), sizeDelta: tx2.sizeDelta });
      m = await (await reopen()).module('c');
      expect(await lastTicks(m, triggers)).toEqual(new Map([['minutely', 120_000], ['0 * * * *', 3_600_000]]));
    });

    it('default: a breaker saved (without waiting) before the store closes is loaded after reopen; the latest save wins; modules apart', async () => {
      let store = await open();
      await store.module('m');
      await store.module('other');
      const open1: StoredBreaker = { state: 'open', cooldownMs: 30_000, at: 1_000 };
      // Saves go out without waiting, as the supervisor makes them: they must land in the order made.
      for (let at = 0; at < 20; at++) store.breakers.save('m', { state: at % 2 ? 'half-open' : 'closed', cooldownMs: 1_000, at });
      store.breakers.save('m', open1);
      store.breakers.save('other', { state: 'half-open', cooldownMs: 60_000, at: 2_000 });
      store = await reopen();
      await store.module('m');
      await store.module('other');
      expect(store.breakers.load('m')).toEqual(open1);
      expect(store.breakers.load('other')).toEqual({ state: 'half-open', cooldownMs: 60_000, at: 2_000 });
      expect(store.breakers.load('never')).toBeUndefined();
      expect(opened!.errors).toEqual([]);
    });
  });
});
