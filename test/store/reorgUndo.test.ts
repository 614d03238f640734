import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedDelivery } from '../../src/bus/ModuleFeed.ts';
import { bindInvocation, type InvocationModule } from '../../src/engine/invocation.ts';
import type { Bytes, JournalEntry, Write } from '../../src/store/EngineStore.ts';
import { GuardedModuleStore } from '../../src/store/GuardedModuleStore.ts';
import { planUndo, sameKept } from '../../src/store/planUndo.ts';
import { ReorgMarks } from '../../src/store/ReorgMarks.ts';
import { backends, type OpenedBackend } from './backends.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
const keys = (list: Bytes[]) => list.map(dec);
const w = (key: string, value: string | null): Write => ({ key: enc(key), value: value === null ? null : enc(value) });

describe('planUndo', () => {
  // The block wrote a (was "A0"), b (was absent) and deleted c (was "C0").
  const undo = [w('a', 'A0'), w('b', null), w('c', 'C0')];
  const since = (...written: string[]) => (key: Bytes) => written.includes(dec(key)!);

  it('default: keys no other source wrote since are restored to their values from before the block', () => {
    expect(planUndo(undo, since())).toEqual({ restores: undo, kept: [] });
  });

  it('behavior: a key another source wrote since keeps its value and is reported; the others are restored', () => {
    const plan = planUndo(undo, since('a', 'c'));
    expect(plan.restores).toEqual([w('b', null)]);
    expect(keys(plan.kept)).toEqual(['a', 'c']);
  });

  it('default: sameKept compares the kept keys', () => {
    expect(sameKept(planUndo(undo, since('a')), planUndo(undo, since('a')))).toBe(true);
    expect(sameKept(planUndo(undo, since('a')), planUndo(undo, since('b')))).toBe(false);
    expect(sameKept(planUndo(undo, since('a')), planUndo(undo, since('a', 'b')))).toBe(false);
  });
});

describe.each(backends)('ReorgMarks ($name)', (backend) => {
  let opened: OpenedBackend | undefined;
  afterEach(() => opened?.close());
  const prev = { number: 9n, hash: '0x09' };
  const record = (number: bigint) => ({ number, hash: `0x${number}`, prev, payload: [] });

  /** Marks over a new store, or over the same store closed and opened again (`reopen`: every commit so far is durable). */
  async function open(reopen = false) {
    if (reopen) await opened!.reopen();
    else opened = await backend.open();
    return { marks: await ReorgMarks.open(await opened!.store.module('m'), [1n, 2n]) };
  }

  it('default: a write of another source to a key a block in the window wrote is marked, in the same commit, and survives a restart', async () => {
    const { marks } = await open();
    await marks.commit({ writes: [w('k', 'block'), w('j', 'block')], sizeDelta: 12, cursor: { source: 'chain:1', value: {} }, journal: { chainId: 1n, record: record(10n) } });
    expect(marks.writtenSince(1n, 10n, enc('k'))).toBe(false);
    await marks.commit({ writes: [w('k', 'custom')], sizeDelta: 1, cursor: { source: 'custom', value: { seq: 1 } } });
    expect(marks.writtenSince(1n, 10n, enc('k'))).toBe(true);
    expect(marks.writtenSince(1n, 10n, enc('j'))).toBe(false);
    const bytes = marks.storedBytes;
    const reopened = (await open(true)).marks;
    expect(reopened.writtenSince(1n, 10n, enc('k'))).toBe(true);
    expect(reopened.writtenSince(1n, 10n, enc('j'))).toBe(false);
    expect(reopened.storedBytes).toBe(bytes); // the mark's bytes counted
  });

  it('behavior: the block\'s own chain is not another source; another chain, a job or a timer (no cursor) is', async () => {
    const { marks } = await open();
    await marks.commit({ writes: [w('a', '1'), w('b', '1'), w('c', '1')], sizeDelta: 6, journal: { chainId: 1n, record: record(10n) } });
    await marks.commit({ writes: [w('a', '2')], sizeDelta: 0, journal: { chainId: 1n, record: record(11n) } }); // chain 1, later block
    await marks.commit({ writes: [w('a', '3')], sizeDelta: 0, cursor: { source: 'chain:1', value: {} } }); // chain 1, catch-up
    await marks.commit({ writes: [w('b', '2')], sizeDelta: 0, journal: { chainId: 2n, record: record(500n) } }); // chain 2
    await marks.commit({ writes: [w('c', '2')], sizeDelta: 0 }); // a job, a timer
    expect([marks.writtenSince(1n, 10n, enc('a')), marks.writtenSince(1n, 10n, enc('b')), marks.writtenSince(1n, 10n, enc('c'))]).toEqual([false, true, true]);
  });

  it('behavior: a block\'s marks go with its undo record (undone or past the window), in that commit', async () => {
    const { marks } = await open();
    await marks.commit({ writes: [w('k', 'block')], sizeDelta: 6, journal: { chainId: 1n, record: record(10n) } });
    const before = marks.storedBytes;
    await marks.commit({ writes: [w('k', 'custom')], sizeDelta: 1 });
    expect(marks.storedBytes).toBeGreaterThan(before + 1);
    await marks.commit({ writes: [], sizeDelta: 0, journal: { chainId: 1n, remove: [10n] } });
    expect(marks.writtenSince(1n, 10n, enc('k'))).toBe(false);
    expect(marks.storedBytes).toBe(before + 1);
    const left: string[] = [];
    for await (const key of marks.keys({ limit: -1 })) left.push(dec(key)!);
    expect(left).toEqual(['k']);
  });

  it("behavior: marks are bookkeeping, never part of another block's undo record: undoing or pruning that block leaves them as they are", async () => {
    const { marks } = await open();
    await marks.commit({ writes: [w('k', 'a')], sizeDelta: 2, journal: { chainId: 1n, record: record(10n) } });
    // Block 500 of chain 2 writes k: another source for block 10 of chain 1, so k is marked for it.
    await marks.commit({ writes: [w('k', 'b')], sizeDelta: 0, journal: { chainId: 2n, record: record(500n) } });
    const [entry500] = await marks.journal(2n);
    expect(keys(entry500!.undo.map((u) => u.key))).toEqual(['k']); // the mark is not in 500's undo
    // Apply 500's undo record (k back to "a") and drop the record, as a commit not flagged as an undo
    // (a flagged one takes back what 500 caused: test/store/twoChainUndo.test.ts): block 10's mark stays,
    // on disk as in memory.
    await marks.commit({ writes: entry500!.undo, sizeDelta: 0, journal: { chainId: 2n, remove: [500n] } });
    expect(marks.writtenSince(1n, 10n, enc('k'))).toBe(true);
    const bytes = marks.storedBytes;
    const reopened = (await open(true)).marks;
    expect(reopened.writtenSince(1n, 10n, enc('k'))).toBe(true);
    expect(reopened.storedBytes).toBe(bytes);
    // Block 75 prunes block 10 (its mark deleted) and is then undone: the mark is not re-created.
    await reopened.commit({ writes: [w('x', '1')], sizeDelta: 2, journal: { chainId: 1n, record: record(75n), remove: [10n] } });
    const entry75 = (await reopened.journal(1n)).find((e) => e.number === 75n)!;
    expect(keys(entry75.undo.map((u) => u.key))).toEqual(['x']);
    await reopened.commit({ writes: entry75.undo, sizeDelta: -2, journal: { chainId: 1n, remove: [75n] } });
    const left: string[] = [];
    for await (const key of reopened.keys({ limit: -1 })) left.push(dec(key)!);
    expect(left).toEqual(['k']); // no orphan mark of the pruned block 10
  });
});

describe.each(backends)('an undo step at its turn ($name)', (backend) => {
  let opened: OpenedBackend | undefined;
  afterEach(() => opened?.close());
  const chainId = 1n;
  const cursor = { number: 9n, hash: '0x09' };

  /** A module's store (as the engine builds it, on the backend) where block 10 wrote j and k (both absent before), then a custom event wrote k. */
  async function afterBlockAndCustom(): Promise<{ store: GuardedModuleStore; marks: ReorgMarks; entry: JournalEntry }> {
    opened = await backend.open();
    const marks = await ReorgMarks.open(await opened.store.module('m'), [chainId]);
    const store = new GuardedModuleStore(marks);
    const record = { number: 10n, hash: '0x10', prev: cursor, payload: [] };
    await store.commit({ writes: [w('j', 'block'), w('k', 'block')], sizeDelta: 12, cursor: { source: `chain:${chainId}`, value: {} }, journal: { chainId, record } });
    await store.commit({ writes: [w('k', 'custom')], sizeDelta: 1, cursor: { source: 'custom', value: { seq: 1 } } });
    return { store, marks, entry: (await store.journal(chainId))[0]! };
  }

  /** The undo step as the feed queues it: planned from the marks as they are now. */
  const undoStep = (marks: ReorgMarks, entry: JournalEntry): FeedDelivery => ({
    events: [],
    cursor,
    undo: { entry, plan: planUndo(entry.undo, (key) => marks.writtenSince(chainId, entry.number, key)) },
    journal: { remove: [entry.number] },
  });

  const moduleOf = (store: GuardedModuleStore, marks: ReorgMarks) =>
    ({
      name: 'm',
      hostImports: () => ({}),
      store,
      caps: {},
      logger: pino({ level: 'silent' }),
      undoPlan: (c: bigint, n: bigint) => marks.undoPlan(c, n),
    }) as unknown as InvocationModule;

  const ok = { ok: true as const, value: [], fuelUsed: 0, durationMs: 0, invocationId: 'test' };

  async function run(store: GuardedModuleStore, marks: ReorgMarks, delivery: FeedDelivery): Promise<boolean> {
    const extras = bindInvocation(moduleOf(store, marks), { kind: 'chain', chainId, delivery });
    try {
      if (!extras.begin!()) return false;
      await extras.complete!(ok);
      return true;
    } finally {
      extras.end!();
    }
  }

  it('default: the step restores the block\'s own key and leaves the key written since', async () => {
    const { store, marks, entry } = await afterBlockAndCustom();
    const step = undoStep(marks, entry);
    expect(keys(step.undo!.plan!.kept)).toEqual(['k']);
    expect(await run(store, marks, step)).toBe(true);
    expect(dec(store.getSync(enc('k')))).toBe('custom');
    expect(store.getSync(enc('j'))).toBeUndefined();
    expect(await store.journal(chainId)).toEqual([]);
  });

  it('behavior: a later write of the very bytes the block wrote is kept too', async () => {
    const { store, marks, entry } = await afterBlockAndCustom();
    await store.commit({ writes: [w('j', 'block')], sizeDelta: 0 }); // a job writes what the block wrote
    expect(await run(store, marks, undoStep(marks, entry))).toBe(true);
    expect(dec(store.getSync(enc('j')))).toBe('block');
  });

  it('behavior: a commit between the plan and the step\'s turn makes the step stale; planned again, it keeps that write too', async () => {
    const { store, marks, entry } = await afterBlockAndCustom();
    const step = undoStep(marks, entry);
    await store.commit({ writes: [w('j', 'job')], sizeDelta: 0 }); // e.g. a job, while the step waited in the mailbox
    expect(await run(store, marks, step)).toBe(false);
    expect(dec(store.getSync(enc('j')))).toBe('job');
    const again = undoStep(marks, entry);
    expect(keys(again.undo!.plan!.kept)).toEqual(['j', 'k']);
    expect(await run(store, marks, again)).toBe(true);
    expect(dec(store.getSync(enc('j')))).toBe('job');
    expect(dec(store.getSync(enc('k')))).toBe('custom');
  });

  it('behavior: a job that writes a key the step restores, committing after the step\'s turn began, is refused (it re-runs on the undone state)', async () => {
    const { store, marks, entry } = await afterBlockAndCustom();
    const job = store.jobTransaction();
    job.set(enc('j'), enc('job'));
    const extras = bindInvocation(moduleOf(store, marks), { kind: 'chain', chainId, delivery: undoStep(marks, entry) });
    expect(extras.begin!()).toBe(true);
    expect(await store.commitJob(job, { writes: job.writes(), sizeDelta: job.sizeDelta })).toBe('conflict');
    await extras.complete!(ok);
    extras.end!();
    expect(store.getSync(enc('j'))).toBeUndefined();
  });

  it("behavior: the runner's bookkeeping writing a key the step restores, after the step began and before it commits, makes the step stale: the bookkeeping stands", async () => {
    const { store, marks, entry } = await afterBlockAndCustom();
    const extras = bindInvocation(moduleOf(store, marks), { kind: 'chain', chainId, delivery: undoStep(marks, entry) });
    expect(extras.begin!()).toBe(true);
    // E.g. the task the block enqueued failed and is rescheduled (JobRunner.fail uses commitWith).
    const bookkept = store.commitWith((tx) => (tx.set(enc('j'), enc('retry')), true));
    const outcome = await extras.complete!(ok);
    extras.end!();
    expect(await bookkept).toBe(true);
    expect(outcome).toEqual({ ok: false, refused: 'stale' });
    expect(dec(store.getSync(enc('j')))).toBe('retry');
    expect(await store.journal(chainId)).toHaveLength(1); // nothing of the step committed: the feed plans again
    const again = undoStep(marks, entry);
    expect(keys(again.undo!.plan!.kept)).toEqual(['j', 'k']);
    expect(await run(store, marks, again)).toBe(true);
    expect(dec(store.getSync(enc('j')))).toBe('retry');
  });
});
