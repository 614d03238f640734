import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../src/errors/EngineError.ts';
import type { ModuleSnapshot } from '../../../src/store/postgres/PostgresStore.ts';
import { freshDatabase } from '../../postgres.ts';
import { dec, enc, Opened, snapshot } from './harness.ts';

let url: string;
const opened = new Opened();
beforeAll(async () => {
  url = await freshDatabase();
});
afterEach(() => opened.closeAll());
afterAll(() => opened.closeAll());

const code = async (promise: Promise<unknown>) => ((await promise.catch((e: unknown) => e)) as EngineError).code;

describe('replicas and ownership', () => {
  it('default: replicas() lists the live replicas with what they declared; ownership() each module\'s live owner and epoch', async () => {
    const a = await opened.store({ url, replica: 'alpha' });
    const b = await opened.store({ url, replica: 'beta' });
    await a.declare(['x', 'y']);
    await b.declare(['y', 'z']);
    await a.tryAcquire('x');
    await b.tryAcquire('y');
    const replicas = await a.replicas();
    expect(replicas.map((r) => [r.name, r.modules])).toEqual([['alpha', ['x', 'y']], ['beta', ['y', 'z']]]);
    expect(replicas.every((r) => r.registeredMs >= 0 && r.registeredMs < 60_000)).toBe(true);
    const owners = Object.fromEntries((await b.ownership()).map((m) => [m.name, { owner: m.owner?.name, epoch: m.epoch }]));
    expect(owners).toEqual({ x: { owner: 'alpha', epoch: 1n }, y: { owner: 'beta', epoch: 1n }, z: { owner: undefined, epoch: 0n } });
    await a.close();
    expect((await b.replicas()).map((r) => r.name)).toEqual(['beta']);
    expect((await b.ownership()).find((m) => m.name === 'x')?.owner).toBeUndefined();
    expect(await b.moduleNames()).toEqual(['y']); // only what this replica owns
  });

  it('behavior: a module past the cache budget is held with reason cache-budget', async () => {
    const big = await opened.store({ url, replica: 'filler' });
    const module = await big.module('big');
    await module.commit({ writes: Array.from({ length: 50 }, (_, i) => ({ key: enc(`k${i}`), value: new Uint8Array(1000) })), sizeDelta: 50_000 });
    await big.close();
    const small = await opened.store({ url, replica: 'small', cacheBytes: 40_000 });
    expect(await small.tryAcquire('big')).toEqual({ held: true, reason: 'cache-budget' });
    expect(await code(small.module('big'))).toBe('module-held');
    expect(await small.tryAcquire('tiny')).toMatchObject({ epoch: expect.any(BigInt) });
  });
});

describe('custom events', () => {
  it('default: appended events are read back in order by topic after a sequence, with a wake-up hint to other replicas', async () => {
    const publisher = await opened.store({ url, replica: 'pub' });
    const listener = await opened.store({ url, replica: 'sub' });
    const woken: string[] = [];
    listener.onWake((channel) => woken.push(channel));
    const start = await listener.lastCustom();
    const first = await publisher.appendCustom('prices', '{"p":1}');
    await publisher.appendCustom('other', 'x');
    const third = await publisher.appendCustom('prices', '{"p":2}');
    expect(third > first).toBe(true);
    expect(await listener.readCustom(start, ['prices'], 10)).toEqual([
      { seq: first, topic: 'prices', payload: '{"p":1}' },
      { seq: third, topic: 'prices', payload: '{"p":2}' },
    ]);
    expect(await listener.readCustom(first, ['prices', 'other'], 1)).toEqual([{ seq: first + 1n, topic: 'other', payload: 'x' }]);
    expect(await listener.lastCustom()).toBe(third);
    await expect.poll(() => woken.filter((c) => c === 'custom').length).toBe(3);
  });
});

describe('read mode and import', () => {
  it('default: mode read opens without a lease: views of every module loaded from the database, whose commit throws', async () => {
    const owner = await opened.store({ url, replica: 'owner' });
    const module = await owner.module('seen');
    await module.commit({ writes: [{ key: enc('k'), value: enc('v') }], sizeDelta: 2, cursor: { source: 'chain:1', value: { number: '7' } } });
    owner.breakers.save('seen', { state: 'open', cooldownMs: 10, at: 1 });
    const reader = await opened.store({ url, mode: 'read' });
    await expect.poll(async () => (await reader.module('seen'), reader.breakers.load('seen'))).toEqual({ state: 'open', cooldownMs: 10, at: 1 });
    const view = await reader.module('seen');
    expect(dec(view.getSync(enc('k')))).toBe('v');
    expect(await view.cursor('chain:1')).toEqual({ number: '7' });
    expect(await reader.moduleNames()).toContain('seen');
    expect((await reader.ownership()).find((m) => m.name === 'seen')?.owner?.name).toBe('owner');
    expect((await reader.replicas()).map((r) => r.name)).toEqual(['owner']); // the reader registered nothing
    expect(await code(view.commit({ writes: [], sizeDelta: 0 }))).toBe('invalid-option');
    expect(await code(reader.module('absent'))).toBe('unknown-module');
    expect(owner.owned().has('seen')).toBe(true); // the reader took nothing
  });

  it('behavior: importModule writes a whole module (keys, cursors, journal, size, breaker) into an empty owned module; a module with state refuses it', async () => {
    const store = await opened.store({ url, replica: 'importer' });
    const held = await store.module('copy');
    const snap: ModuleSnapshot = {
      entries: [[enc('a'), enc('1')], [Uint8Array.of(0xff, 0x00), enc('2')]],
      cursors: { 'chain:1': { number: '9', hash: '0x9' }, custom: { seq: 4 } },
      journal: [{ chainId: 1n, entries: [{ number: 9n, hash: '0x9', prev: { number: 8n, hash: '0x8' }, undo: [{ key: enc('a'), value: null }], payload: { logs: [] } }] }],
      storedBytes: 5,
      breaker: { state: 'half-open', cooldownMs: 3, at: 2 },
    };
    await store.importModule('copy', snap);
    const module = await store.module('copy');
    expect(module).toBe(held); // the store object the engine holds sees the import
    expect(await snapshot(module)).toEqual({
      kv: [['61', '1'], ['ff00', '2']],
      cursors: snap.cursors,
      journal1: [{ number: 9n, hash: '0x9', prev: { number: 8n, hash: '0x8' }, undo: [['61', null]], payload: { logs: [] } }],
      journal2: [],
      storedBytes: 5,
    });
    expect(store.breakers.load('copy')).toEqual(snap.breaker);
    await module.commit({ writes: [{ key: enc('b'), value: enc('3') }], sizeDelta: 2 }); // the fresh cache commits under the same epoch
    expect(await code(store.importModule('copy', snap))).toBe('invalid-option');
    await store.close();
    const reopened = await opened.store({ url, replica: 'importer2' });
    expect((await snapshot(await reopened.module('copy')) as { kv: unknown }).kv).toEqual([['61', '1'], ['62', '3'], ['ff00', '2']]);
  });
});
