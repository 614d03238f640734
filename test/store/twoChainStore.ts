import { pino } from 'pino';
import { expect } from 'vitest';
import type { FeedDelivery } from '../../src/bus/ModuleFeed.ts';
import { undoSteps } from '../../src/bus/undoSteps.ts';
import { bindInvocation, type InvocationModule } from '../../src/engine/invocation.ts';
import type { Commit, JournalEntry } from '../../src/store/EngineStore.ts';
import { GuardedModuleStore } from '../../src/store/GuardedModuleStore.ts';
import { planUndo } from '../../src/store/planUndo.ts';
import { ReorgMarks } from '../../src/store/ReorgMarks.ts';
import type { OpenedBackend } from './backends.ts';

/** The two chains a module follows in the undo tests (test/store/twoChainUndo, test/jobs/timerUndo). */
export const A = 1n;
export const B = 2n;

/** Module `m`'s store on its chains (A and B unless told) as the engine builds it: a backend's store, reorg marks, the guard. */
export interface ChainStore {
  backend: OpenedBackend;
  chainIds: readonly bigint[];
  marks: ReorgMarks;
  store: GuardedModuleStore;
}

export async function openChainStore(backend: OpenedBackend, chainIds: readonly bigint[] = [A, B]): Promise<ChainStore> {
  const marks = await ReorgMarks.open(await backend.store.module('m'), [...chainIds]);
  return { backend, chainIds, marks, store: new GuardedModuleStore(marks) };
}

/** Closes the store as a crash would leave it (every commit so far is durable) and builds the module's store again on it. */
export async function reopenChainStore({ backend, chainIds }: ChainStore): Promise<ChainStore> {
  await backend.reopen();
  return openChainStore(backend, chainIds);
}

/** What a commit of block `number` of `chainId` carries besides its writes: its cursor and journal record. */
export function blockCommit(chainId: bigint, number: bigint): Omit<Commit, 'writes' | 'sizeDelta'> {
  const record = { number, hash: `0x${chainId}${number}`, prev: { number: number - 1n, hash: `0x${chainId}${number - 1n}` }, payload: [] };
  return { cursor: { source: `chain:${chainId}`, value: {} }, journal: { chainId, record } };
}

/**
 * The undo of `entry` as the engine runs it: planned by its feed from the journal and the marks, then
 * staged and committed by the invocation step. Returns the plan (the keys it kept).
 */
export async function undoThroughInvocation({ marks, store }: Pick<ChainStore, 'marks' | 'store'>, chainId: bigint, entry: JournalEntry): Promise<ReturnType<typeof planUndo>> {
  const plan = planUndo(entry.undo, (key) => marks.writtenSince(chainId, entry.number, key));
  const delivery: FeedDelivery = { ...undoSteps([entry], entry.prev)[0]!, undo: { entry, plan } };
  const module = { name: 'm', hostImports: () => ({}), store, caps: {}, logger: pino({ level: 'silent' }), undoPlan: (c: bigint, n: bigint) => marks.undoPlan(c, n) } as unknown as InvocationModule;
  const extras = bindInvocation(module, { kind: 'chain', chainId, delivery });
  try {
    expect(extras.begin!()).toBe(true);
    expect(await extras.complete!({ ok: true, value: [], fuelUsed: 0, durationMs: 0, invocationId: 'test' })).toMatchObject({ ok: true });
  } finally {
    extras.end!();
  }
  return plan;
}
