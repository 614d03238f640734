/**
 * A read view (EngineStore.readView) sees committed state as of its opening, every commit whole:
 * the read API and module queries read through it while steps keep committing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ModuleReadView, ReadView, Write } from '../../src/store/EngineStore.ts';
import { freshDatabase } from '../postgres.ts';
import { backends, type OpenedBackend } from './backends.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
const w = (key: string, value: string | null): Write => ({ key: enc(key), value: value === null ? null : enc(value) });

async function keysOf(view: ModuleReadView, range: Parameters<ModuleReadView['keys']>[0]): Promise<string[]> {
  const out: string[] = [];
  for await (const key of view.keys(range)) out.push(dec(key)!);
  return out;
}

describe.each(backends)('read view: $name', (backend) => {
  let opened: OpenedBackend | undefined;
  afterEach(async () => {
    await opened?.close();
    opened = undefined;
  });

  it('behavior: a view sees the commits before it opened, whole, and none after; keys, cursors and size are the module\'s own', async () => {
    opened = await backend.open();
    const store = opened.store;
    const m = await store.module('m');
    const other = await store.module('m2'); // a neighbour whose prefix sorts right after m's
    await other.commit({ writes: [w('a', 'other')], sizeDelta: 6 });
    await m.commit({ writes: [w('a', '1'), w('b', '1'), w('c', '1')], sizeDelta: 6, cursor: { source: 'chain:1', value: { number: '1' } } });

    const view = await store.readView();
    await m.commit({ writes: [w('a', '2'), w('b', null), w('d', '2')], sizeDelta: -0, cursor: { source: 'chain:1', value: { number: '2' } } });
    try {
      const mv = (await view.module('m'))!;
      expect(mv.name).toBe('m');
      expect(dec(await mv.get(enc('a')))).toBe('1');
      if (backend.name === 'level') expect(dec(mv.getSync(enc('b')))).toBe('1'); // a worker's query reads synchronously; PostgreSQL refuses it
      expect(await mv.get(enc('d'))).toBeUndefined();
      expect(await keysOf(mv, { limit: -1 })).toEqual(['a', 'b', 'c']);
      expect(await keysOf(mv, { gt: enc('a'), limit: 1 })).toEqual(['b']);
      expect(await keysOf(mv, { gte: enc('b'), lt: enc('c'), limit: -1 })).toEqual(['b']);
      const entries: [string, string][] = [];
      for await (const [k, v] of mv.entries({ gt: enc('a'), limit: -1 })) entries.push([dec(k)!, dec(v)!]);
      expect(entries).toEqual([['b', '1'], ['c', '1']]);
      expect(await mv.cursors()).toEqual({ 'chain:1': { number: '1' } });
      expect(await mv.storedBytes()).toBe(6);
      expect(await view.module('absent')).toBeUndefined();
      expect(await view.module('../m')).toBeUndefined();
    } finally {
      await view.close();
    }
    const after = await store.readView();
    try {
      const mv = (await after.module('m'))!;
      expect(await keysOf(mv, { limit: -1 })).toEqual(['a', 'c', 'd']);
      expect(await mv.cursors()).toEqual({ 'chain:1': { number: '2' } });
    } finally {
      await after.close();
    }
  });
});

describe('read view: PostgreSQL connections', () => {
  it('behavior: read views take at most one fewer than the pool\'s connections, so a commit goes through while readers are at their bound (found in review: views on every connection held commits past the lease)', async () => {
    const { PostgresStore } = await import('../../src/store/postgres/PostgresStore.ts');
    const store = await PostgresStore.open({ url: await freshDatabase(), replica: 'read-slots', pool: 3, onError: () => {} });
    try {
      const m = await store.module('m');
      const views = [await store.readView(), await store.readView()];
      let third: ReadView | undefined;
      const waiting = store.readView().then((v) => (third = v));
      // Two views hold two of three connections; the third reader waits, and the commit takes the last.
      await m.commit({ writes: [w('k', 'v')], sizeDelta: 2 });
      expect(third).toBeUndefined();
      await views[0]!.close();
      await waiting;
      const seen = (await third!.module('m'))!;
      expect(dec(await seen.get(enc('k')))).toBe('v'); // opened after the commit: it sees it
      await Promise.all([views[1]!.close(), third!.close()]);
    } finally {
      await store.close();
    }
  });
});
