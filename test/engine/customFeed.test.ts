import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustomFeed } from '../../src/engine/CustomFeed.ts';
import { PostgresStore } from '../../src/store/postgres/PostgresStore.ts';
import { freshDatabase } from '../postgres.ts';

let store: PostgresStore;
beforeAll(async () => {
  store = await PostgresStore.open({ url: await freshDatabase(), replica: 'feed' });
});
afterAll(() => store.close());

describe('CustomFeed', () => {
  it('behavior: every event on its topics is handed over once, in publication order, from the position on, however often it is woken (past nine: sequence order, not text order)', async () => {
    const got: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The sink holds the first event until woken many times, so wakes land while a read runs.
    const feed = new CustomFeed(store, ['t'], 2n, async (event, cursor) => {
      if (got.length === 0) await gate;
      expect(event.val).toMatchObject({ topic: 't' });
      got.push(cursor.seq);
    }, pino({ level: 'silent' }));
    for (let i = 1; i <= 25; i++) await store.appendCustom(i % 5 === 0 ? 'other' : 't', String(i));
    for (let i = 0; i < 10; i++) feed.wake();
    release();
    const expected = Array.from({ length: 25 }, (_, i) => i + 1).filter((n) => n > 2 && n % 5 !== 0);
    await expect.poll(() => got.length).toBe(expected.length);
    for (let i = 0; i < 5; i++) feed.wake();
    await store.appendCustom('t', 'late');
    feed.wake();
    await expect.poll(() => got.at(-1)).toBe(26);
    await feed.stop();
    expect(got).toEqual([...expected, 26]);
  });
});
