import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { recordPayload, recordWithWrites, type FeedDelivery } from '../../src/bus/ModuleFeed.ts';
import { bindInvocation, type InvocationModule } from '../../src/engine/invocation.ts';
import type { Bytes, JournalEntry, Write } from '../../src/store/EngineStore.ts';
import { GuardedModuleStore } from '../../src/store/GuardedModuleStore.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';
import { planUndo, sameKept, wroteDigests } from '../../src/store/planUndo.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
const keys = (list: Bytes[]) => list.map(dec);
const w = (key: string, value: string | null): Write => ({ key: enc(key), value: value === null ? null : enc(value) });
/** A state as a map of text keys, read the way an undo reads the committed state. */
const reader = (state: Record<string, string>) => (key: Bytes) => (dec(key)! in state ? enc(state[dec(key)!]!) : undefined);

describe('planUndo', () => {
  // The block wrote a = "A1" (was "A0"), b = "B1" (was absent) and deleted c (was "C0").
  const undo = [w('a', 'A0'), w('b', null), w('c', 'C0')];
  const wrote = wroteDigests([w('a', 'A1'), w('b', 'B1'), w('c', null)]);

  it('default: keys still as the block left them are restored to their values from before it', () => {
    const plan = planUndo(undo, wrote, reader({ a: 'A1', b: 'B1' }));
    expect(plan.restores).toEqual(undo);
    expect(plan.kept).toEqual([]);
  });

  it('behavior: a key written since by another source keeps that value and is reported; the others are restored', () => {
    const plan = planUndo(undo, wrote, reader({ a: 'A2', b: 'B1' }));
    expect(plan.restores).toEqual([w('b', null), w('c', 'C0')]);
    expect(keys(plan.kept)).toEqual(['a']);
  });

  it('behavior: a delete since, and a set since of a key the block deleted, are both kept', () => {
    const plan = planUndo(undo, wrote, reader({ a: 'A1', c: 'C2' }));
    expect(plan.restores).toEqual([w('a', 'A0')]);
    expect(keys(plan.kept)).toEqual(['b', 'c']);
  });

  it('behavior: a later write of the very bytes the block wrote cannot be told from the block\'s own, and is undone (the documented limit)', () => {
    const plan = planUndo(undo, wrote, reader({ a: 'A1', b: 'B1' }));
    expect(keys(plan.restores.map((r) => r.key))).toEqual(['a', 'b', 'c']);
  });

  it('args: a record without digests (kept before they were) restores every key, as undo did then', () => {
    const plan = planUndo(undo, undefined, reader({ a: 'A2' }));
    expect(plan).toEqual({ restores: undo, kept: [] });
  });

  it('default: sameKept compares the kept keys', () => {
    const one = planUndo(undo, wrote, reader({ a: 'A2', b: 'B1' }));
    expect(sameKept(one, planUndo(undo, wrote, reader({ a: 'A3', b: 'B1' })))).toBe(true);
    expect(sameKept(one, planUndo(undo, wrote, reader({ a: 'A2', b: 'B2' })))).toBe(false);
    expect(sameKept(one, planUndo(undo, wrote, reader({ a: 'A1', b: 'B1' })))).toBe(false);
  });
});

describe('an undo step at its turn', () => {
  let level: LevelStore | undefined;
  afterEach(() => level?.close());
  const chainId = 1n;
  const cursor = { number: 9n, hash: '0x09' };

  /** A module's store where block 10 wrote k = "block" and j = "block" (both absent before), then k = "custom". */
  async function afterBlockAndCustom(): Promise<{ store: GuardedModuleStore; entry: JournalEntry }> {
    level = await LevelStore.open(mkdtempSync(join(tmpdir(), 'corral-undo-')));
    const store = new GuardedModuleStore(await level.module('m'));
    const writes = [w('j', 'block'), w('k', 'block')];
    const record = recordWithWrites({ number: 10n, hash: '0x10', prev: cursor, payload: [] }, writes);
    await store.commit({ writes, sizeDelta: 12, journal: { chainId, record } });
    await store.commit({ writes: [w('k', 'custom')], sizeDelta: 1 });
    return { store, entry: (await store.journal(chainId))[0]! };
  }

  /** The undo step as the feed queues it: planned against the state now. */
  const undoStep = (store: GuardedModuleStore, entry: JournalEntry): FeedDelivery => ({
    events: [],
    cursor,
    undo: { entry, plan: planUndo(entry.undo, recordPayload(entry.payload).wrote, (key) => store.getSync(key)) },
    journal: { remove: [entry.number] },
  });

  const moduleOf = (store: GuardedModuleStore) =>
    ({ manifest: { name: 'm', grants: {}, jobs: {}, triggers: [] }, specifiers: {}, store, caps: {}, logger: pino({ level: 'silent' }), version: '', now: () => 0, rateLimited: () => {} }) as unknown as InvocationModule;

  async function run(store: GuardedModuleStore, delivery: FeedDelivery): Promise<boolean> {
    const extras = bindInvocation(moduleOf(store), { kind: 'chain', chainId, delivery }, new Map(), new Map());
    try {
      if (!extras.begin!()) return false;
      await extras.complete!({ ok: true, value: [], fuelUsed: 0, durationMs: 0, invocationId: 'test' });
      return true;
    } finally {
      extras.end!();
    }
  }

  it('default: the step restores the block\'s own key and leaves the key written since', async () => {
    const { store, entry } = await afterBlockAndCustom();
    const step = undoStep(store, entry);
    expect(keys(step.undo!.plan!.kept)).toEqual(['k']);
    expect(await run(store, step)).toBe(true);
    expect(dec(store.getSync(enc('k')))).toBe('custom');
    expect(store.getSync(enc('j'))).toBeUndefined();
    expect(await store.journal(chainId)).toEqual([]);
  });

  it('behavior: a commit between the plan and the step\'s turn makes the step stale; planned again, it keeps that write too', async () => {
    const { store, entry } = await afterBlockAndCustom();
    const step = undoStep(store, entry);
    await store.commit({ writes: [w('j', 'job')], sizeDelta: 0 }); // e.g. a job, while the step waited in the mailbox
    expect(await run(store, step)).toBe(false);
    expect(dec(store.getSync(enc('j')))).toBe('job');
    const again = undoStep(store, entry);
    expect(keys(again.undo!.plan!.kept)).toEqual(['j', 'k']);
    expect(await run(store, again)).toBe(true);
    expect(dec(store.getSync(enc('j')))).toBe('job');
    expect(dec(store.getSync(enc('k')))).toBe('custom');
  });

  it('behavior: a job that writes a key the step is restoring, after the step\'s turn began, is refused (it re-runs on the undone state)', async () => {
    const { store, entry } = await afterBlockAndCustom();
    const job = store.jobTransaction();
    job.set(enc('j'), enc('job'));
    const extras = bindInvocation(moduleOf(store), { kind: 'chain', chainId, delivery: undoStep(store, entry) }, new Map(), new Map());
    expect(extras.begin!()).toBe(true);
    expect(await store.commitJob(job, { writes: job.writes(), sizeDelta: job.sizeDelta })).toBe('conflict');
    await extras.complete!({ ok: true, value: [], fuelUsed: 0, durationMs: 0, invocationId: 'test' });
    extras.end!();
    expect(store.getSync(enc('j'))).toBeUndefined();
  });
});
