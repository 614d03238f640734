import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineError } from '../../../src/errors/EngineError.ts';
import type { OwnershipLoss } from '../../../src/store/OwnedStore.ts';
import { freshDatabase, startPostgres, type TestPostgres } from '../../postgres.ts';
import { dec, enc, Opened } from './harness.ts';

let server: TestPostgres;
const opened = new Opened();
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await opened.closeAll();
  await server?.destroy();
});

describe('PostgreSQL restarted under a replica', () => {
  it('behavior: the lease is lost and commits are refused; after reconnect the module is acquired with a new epoch and commits again over the same pool', async () => {
    const url = await freshDatabase(server);
    const errors: Error[] = [];
    const store = await opened.store({ url, replica: 'survivor', onError: (e) => errors.push(e) });
    const module = await store.module('m');
    await module.commit({ writes: [{ key: enc('k'), value: enc('before') }], sizeDelta: 7 });
    const epoch = store.owned().get('m')!;
    const losses: OwnershipLoss[] = [];
    store.onLost((loss) => losses.push(loss));

    await server.stop();
    await expect.poll(() => losses.map((l) => l.reason)).toEqual(['lease']);
    const refused = (await module.commit({ writes: [{ key: enc('k'), value: enc('during') }], sizeDelta: 0 }).catch((e: unknown) => e)) as EngineError;
    expect(refused.code).toBe('store-lost');
    expect(((await store.reconnect().catch((e: unknown) => e)) as EngineError).code).toBe('store-unreachable');

    await server.start();
    await store.reconnect();
    expect(await store.tryAcquire('m')).toEqual({ epoch: epoch + 1n });
    const again = await store.module('m');
    expect(dec(again.getSync(enc('k')))).toBe('before');
    await again.commit({ writes: [{ key: enc('k'), value: enc('after') }], sizeDelta: 0 });
    const sql = await opened.client(url);
    expect((await sql.query(`select convert_from(v, 'utf8') as v from corral.kv`)).rows).toEqual([{ v: 'after' }]);
  });
});
