import { afterEach, describe, expect, it } from 'vitest';
import { GuardedModuleStore } from '../../src/store/GuardedModuleStore.ts';
import { ReorgMarks } from '../../src/store/ReorgMarks.ts';
import type { StateTransaction } from '../../src/store/StateTransaction.ts';
import { backends, type Backend, type OpenedBackend } from './backends.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
let opened: OpenedBackend | undefined;
afterEach(() => opened?.close());

/** A guarded module store over a new store of the backend, with `k` = "0". */
async function guarded(backend: Backend): Promise<GuardedModuleStore> {
  opened = await backend.open();
  const store = new GuardedModuleStore(await opened.store.module('m'));
  await store.commit({ writes: [{ key: enc('k'), value: enc('0') }], sizeDelta: 2 });
  return store;
}

const bump = (tx: StateTransaction, key = 'k') => tx.set(enc(key), enc(String(Number(dec(tx.get(enc(key))) ?? 0) + 1)));
const commitJob = (store: GuardedModuleStore, tx: StateTransaction) => store.commitJob(tx, { writes: tx.writes(), sizeDelta: tx.sizeDelta });

describe.each(backends)('GuardedModuleStore ($name)', (backend) => {
  it('default: a job that read a key committed by another since it began is refused; one that did not is committed', async () => {
    const store = await guarded(backend);
    const a = store.jobTransaction();
    const b = store.jobTransaction();
    bump(a);
    bump(b);
    expect(await commitJob(store, a)).toBe('committed');
    expect(await commitJob(store, b)).toBe('conflict'); // it read k = 0, now 1: its k = 1 would lose a's update
    const c = store.jobTransaction();
    bump(c);
    expect(await commitJob(store, c)).toBe('committed');
    expect(dec(store.getSync(enc('k')))).toBe('2');
  });

  it('behavior: a job may not commit a key the event in flight has read; an event only queued does not count', async () => {
    const store = await guarded(backend);
    const running = store.eventTransaction();
    store.beginEvent(running);
    running.get(enc('k'));
    const queued = store.eventTransaction(); // a reorg step staging its undo while it waits its turn
    queued.set(enc('other'), enc('x'));
    const job = store.jobTransaction();
    bump(job);
    expect(await commitJob(store, job)).toBe('conflict'); // the queued event did not replace the running one
    store.endEvent(running);
    const again = store.jobTransaction();
    bump(again);
    expect(await commitJob(store, again)).toBe('committed');
  });

  it('behavior: a listed range counts as read: a job writing a key in it while the event has listed it is refused', async () => {
    const store = await guarded(backend);
    const event = store.eventTransaction();
    store.beginEvent(event);
    await event.listKeys(enc('order/'), undefined, 10);
    const job = store.jobTransaction();
    job.set(enc('order/7'), enc('new'));
    expect(await commitJob(store, job)).toBe('conflict');
    const outside = store.jobTransaction();
    outside.set(enc('other/7'), enc('new'));
    expect(await commitJob(store, outside)).toBe('committed');
  });

  it('behavior: commitWith builds its commit when its turn comes, after the commits asked for before it', async () => {
    const store = await guarded(backend);
    const event = store.eventTransaction();
    event.delete(enc('k'));
    const first = store.commit({ writes: event.writes(), sizeDelta: event.sizeDelta });
    // Built before `first` is applied, this would count k's bytes as deleted a second time.
    const second = store.commitWith((tx) => (tx.delete(enc('k')), true));
    await Promise.all([first, second]);
    expect(store.storedBytes).toBe(0);
    expect(await store.commitWith(() => false)).toBe(false);
  });

  it('behavior: commits asked for back to back apply in order, each built on the ones before, though none was durable when the next was checked', async () => {
    const store = await guarded(backend);
    const job = store.jobTransaction();
    bump(job); // reads k = 0
    const bumps = Array.from({ length: 20 }, () => store.commitWith((tx) => (bump(tx), true)));
    const refused = commitJob(store, job); // checked after the 20 bumps were handed on
    expect(await refused).toBe('conflict');
    expect(await Promise.all(bumps)).toEqual(Array.from({ length: 20 }, () => true));
    expect(dec(store.getSync(enc('k')))).toBe('20');
    expect(dec(await store.get(enc('k')))).toBe('20');
    expect(store.storedBytes).toBe(3); // 'k' + '20': each commit's size computed from the one before
  });

  it("behavior: a block's commit asked for while a job's is not yet durable waits for it, commits, and the module's commits after it do too", async () => {
    // Stacked as ModuleRuntime stacks it. A block's commit (it records a journal entry) waits for the
    // commits handed on before it; it once waited for its own turn instead, and the module hung for good.
    opened = await backend.open();
    const store = new GuardedModuleStore(await ReorgMarks.open(await opened.store.module('m'), [1n]));
    const job = store.jobTransaction();
    job.set(enc('job-output'), enc('1'));
    const jobDone = commitJob(store, job);
    const block = store.commitIf({ writes: [{ key: enc('b'), value: enc('1') }], sizeDelta: 2, cursor: { source: 'chain:1', value: '1' }, journal: { chainId: 1n, record: { number: 1n, hash: '0x01', prev: { number: 0n, hash: '0x00' }, payload: null } } }, () => true);
    const later = store.commit({ writes: [{ key: enc('c'), value: enc('1') }], sizeDelta: 2 });
    expect(await jobDone).toBe('committed');
    expect(await block).toBe(true);
    await later;
    expect([dec(await store.get(enc('job-output'))), dec(await store.get(enc('b'))), dec(await store.get(enc('c')))]).toEqual(['1', '1', '1']);
  });
});
