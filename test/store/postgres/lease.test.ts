import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../src/errors/EngineError.ts';
import type { OwnershipLoss } from '../../../src/store/OwnedStore.ts';
import { FREEZE_LEASE } from '../../../src/store/postgres/Lease.ts';
import { freshDatabase } from '../../postgres.ts';
import { enc, Opened } from './harness.ts';

let url: string;
const opened = new Opened();
beforeAll(async () => {
  url = await freshDatabase();
});
afterEach(() => opened.closeAll());
afterAll(() => opened.closeAll());

const code = async (promise: Promise<unknown>) => ((await promise.catch((e: unknown) => e)) as EngineError).code;

describe('lease and epoch', () => {
  it('default: a second replica is held while the first owns a module, and takes it with a higher epoch once released', async () => {
    const first = await opened.store({ url, replica: 'first' });
    const second = await opened.store({ url, replica: 'second' });
    await first.declare(['m']);
    await second.declare(['m']);
    const { epoch } = (await first.tryAcquire('m')) as { epoch: bigint };
    expect(await second.tryAcquire('m')).toEqual({ held: true, reason: 'owned-elsewhere' });
    expect(await code(second.module('m'))).toBe('module-held');
    const woken: string[] = [];
    second.onWake((channel) => woken.push(channel));
    expect(await first.release('m')).toBe(true);
    await first.notify('placement');
    await expect.poll(() => woken).toContain('placement');
    expect(await code((await first.module('n')).commit({ writes: [], sizeDelta: 0 }).then(() => 'ok'))).toBe(undefined); // another module still commits
    expect(first.owned().has('m')).toBe(false);
    expect(await second.tryAcquire('m')).toEqual({ epoch: epoch + 1n });
  });

  it('behavior: a lease session ended by the server (pg_terminate_backend) loses every module at once; another replica takes them with a higher epoch', async () => {
    const first = await opened.store({ url, replica: 'victim' });
    const second = await opened.store({ url, replica: 'heir' });
    const a = await first.module('a');
    await first.module('b');
    const epochA = first.owned().get('a')!;
    const losses: OwnershipLoss[] = [];
    first.onLost((loss) => losses.push(loss));
    const sql = await opened.client(url);
    const { rows } = await sql.query('select pid from corral.replicas where id = $1', [first.replica.id]);
    await sql.query('select pg_terminate_backend($1)', [rows[0].pid]);
    await expect.poll(() => losses.length).toBe(1);
    expect(losses[0]!.reason).toBe('lease');
    expect(losses[0]!.module).toBeUndefined();
    expect(first.owned().size).toBe(0);
    expect(await code(a.commit({ writes: [{ key: enc('k'), value: enc('v') }], sizeDelta: 2 }))).toBe('store-lost');
    // Lost, not released: a release now has nothing of its own to give up.
    expect(await first.release('a')).toBe(false);
    // A listener that comes after the loss hears of it too (a start that stalled past the self-fence).
    const late: OwnershipLoss[] = [];
    first.onLost((loss) => late.push(loss));
    await expect.poll(() => late.map((loss) => loss.reason)).toEqual(['lease']);
    await expect.poll(() => second.tryAcquire('a')).toEqual({ epoch: epochA + 1n });
    expect(await second.tryAcquire('b')).toMatchObject({ epoch: expect.any(BigInt) });
    // Reconnecting registers anew and owns nothing until it acquires.
    const oldId = first.replica.id;
    await first.reconnect();
    expect(first.replica.id).not.toBe(oldId);
    expect(await first.tryAcquire('a')).toEqual({ held: true, reason: 'owned-elsewhere' });
    expect((await first.replicas()).map((r) => r.name).sort()).toEqual(['heir', 'victim']);
  });

  it('behavior: a close while a reconnect is in flight leaves no live lease behind (no ghost replica holding its lock)', async () => {
    const store = await opened.store({ url, replica: 'ghost' });
    const sql = await opened.client(url);
    const lost = new Promise((resolve) => store.onLost(resolve));
    const { rows } = await sql.query('select pid from corral.replicas where id = $1', [store.replica.id]);
    await sql.query('select pg_terminate_backend($1)', [rows[0].pid]);
    await lost;
    const results = await Promise.allSettled([store.reconnect(), store.close()]);
    expect(results[1].status).toBe('fulfilled');
    const watcher = await opened.store({ url, replica: 'watcher' });
    await expect.poll(async () => (await watcher.replicas()).map((r) => r.name)).toEqual(['watcher']);
  });

  it('default: heartbeats keep a lease past its period (the server\'s idle_session_timeout), and commits go on', async () => {
    const store = await opened.store({ url, replica: 'beating', leaseMs: 2_000 });
    const module = await store.module('hb');
    const losses: OwnershipLoss[] = [];
    store.onLost((loss) => losses.push(loss));
    const sql = await opened.client(url);
    const alive = async () => (await sql.query(`select (seen_at - registered_at) > interval '3 seconds' as past from corral.replicas where id = $1`, [store.replica.id])).rows[0].past as boolean;
    await expect.poll(alive, { interval: 250 }).toBe(true);
    await module.commit({ writes: [{ key: enc('k'), value: enc('v') }], sizeDelta: 2 });
    expect(losses).toEqual([]);
    expect(store.owned().get('hb')).toBe(1n);
  });

  it('behavior: a frozen owner (no heartbeats, its socket unseen) loses the module once the server ends its session; its later commit is refused and nothing of it is visible', async () => {
    const frozen = await opened.store({ url, replica: 'frozen', leaseMs: 2_000 });
    const other = await opened.store({ url, replica: 'other' });
    const module = await frozen.module('f');
    await module.commit({ writes: [{ key: enc('k'), value: enc('before') }], sizeDelta: 7 });
    const epoch = frozen.owned().get('f')!;
    const losses: OwnershipLoss[] = [];
    frozen.onLost((loss) => losses.push(loss));
    frozen[FREEZE_LEASE]();
    expect(await other.tryAcquire('f')).toEqual({ held: true, reason: 'owned-elsewhere' });
    // idle_session_timeout (the lease period) ends the silent session; its locks go with it.
    await expect.poll(() => other.tryAcquire('f'), { interval: 200 }).toEqual({ epoch: epoch + 1n });
    expect(await code(module.commit({ writes: [{ key: enc('k'), value: enc('after') }, { key: enc('late'), value: enc('x') }], sizeDelta: 9, cursor: { source: 'custom', value: 1 } }))).toBe('store-lost');
    expect(losses).toMatchObject([{ reason: 'lease' }]);
    const sql = await opened.client(url);
    const kv = await sql.query(`select convert_from(k, 'utf8') as k, convert_from(v, 'utf8') as v from corral.kv join corral.modules m on m.id = module_id where m.name = 'f'`);
    expect(kv.rows).toEqual([{ k: 'k', v: 'before' }]);
    expect((await sql.query(`select count(*)::int as n from corral.cursors join corral.modules m on m.id = module_id where m.name = 'f'`)).rows[0].n).toBe(0);
    expect((await other.module('f')).getSync(enc('k'))).toEqual(enc('before'));
  });

  it('behavior: a frozen owner whose monotonic clock stood still too (a suspended VM: the self-fence cannot see it) is refused by the epoch: fenced, nothing written', async () => {
    // CLOCK_MONOTONIC does not count a suspended machine's time: this clock never moves.
    const stopped = await opened.store({ url, replica: 'suspended', leaseMs: 2_000, now: () => 0 });
    const other = await opened.store({ url, replica: 'awake' });
    const module = await stopped.module('vm');
    await module.commit({ writes: [{ key: enc('k'), value: enc('before') }], sizeDelta: 7 });
    stopped[FREEZE_LEASE]();
    await expect.poll(() => other.tryAcquire('vm'), { interval: 200 }).toMatchObject({ epoch: expect.any(BigInt) });
    expect(await code(module.commit({ writes: [{ key: enc('k'), value: enc('after') }], sizeDelta: 0, journal: { chainId: 1n, record: { number: 1n, hash: '0x1', prev: { number: 0n, hash: '0x0' }, payload: null } } }))).toBe('fenced');
    const sql = await opened.client(url);
    const kv = await sql.query(`select convert_from(v, 'utf8') as v from corral.kv join corral.modules m on m.id = module_id where m.name = 'vm'`);
    expect(kv.rows).toEqual([{ v: 'before' }]);
    expect((await sql.query(`select count(*)::int as n from corral.journal join corral.modules m on m.id = module_id where m.name = 'vm'`)).rows[0].n).toBe(0);
  });

  it('behavior: release waits for the commit in flight and refuses later ones', async () => {
    const store = await opened.store({ url, replica: 'releaser' });
    const module = await store.module('r');
    const commit = module.commit({ writes: [{ key: enc('k'), value: enc('v') }], sizeDelta: 2 });
    await store.release('r');
    await commit;
    expect(await code(module.commit({ writes: [{ key: enc('k'), value: enc('w') }], sizeDelta: 0 }))).toBe('store-lost');
    const sql = await opened.client(url);
    expect((await sql.query(`select convert_from(v, 'utf8') as v from corral.kv join corral.modules m on m.id = module_id where m.name = 'r'`)).rows).toEqual([{ v: 'v' }]);
    const heir = await opened.store({ url, replica: 'heir2' });
    expect(await heir.tryAcquire('r')).toMatchObject({ epoch: expect.any(BigInt) });
  });
});
