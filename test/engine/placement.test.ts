import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModuleManifest, Runtime } from '../../src/index.ts';
import { Engine, type OwnershipEvent } from '../../src/engine/Engine.ts';
import { renderStatus } from '../../src/cli/status.ts';
import { EngineError } from '../../src/errors/EngineError.ts';
import { EngineMetrics } from '../../src/metrics/EngineMetrics.ts';
import { LoadError } from '../../src/errors/LoadError.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';
import { freshDatabase } from '../postgres.ts';
import { ModuleRuntime } from '../../src/engine/ModuleRuntime.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
// A generous deadline: an event that times out on a loaded machine is dropped (as on LevelDB), which would read as a lost event here.
const counter = (name: string): ModuleManifest => ({ name, component: fixture('counter'), grants: { store: true, logging: true }, topics: ['cmd'], limits: { timeoutMs: 20_000 } });
const incr = JSON.stringify({ op: 'incr' });

/** An engine on `url` (a short lease; placement fast enough for a test). */
function replica(url: string, name: string, modules: ModuleManifest[], placement: { joinDelayMs?: number; minHoldMs?: number } = {}) {
  return Engine.start({
    runtime,
    logger: captureLogger().logger,
    modules,
    store: { backend: 'postgres', url, replica: name, leaseMs: 3_000, placement: { reconcileMs: 200, joinDelayMs: 500, minHoldMs: 0, maxMovesPerRound: 2, ...placement } },
  });
}

/** Every module's count as its owner (whichever engine) has it. */
async function counts(engines: Engine[], names: string[]): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const name of names) {
    const owner = engines.find((e) => e.owned().has(name));
    out[name] = owner ? text(await owner.read(name, bytes('count'))) : 'unowned';
  }
  return out;
}

describe('engine on PostgreSQL', () => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase();
  });

  it('default: a lone engine owns every module once started, handles custom events, keeps state across a restart, and gets what was published while it was down', async () => {
    const first = await replica(url, 'solo', [counter('a'), counter('b')]);
    expect([...first.owned().keys()].sort()).toEqual(['a', 'b']);
    const epochs = new Map(first.owned());
    for (let i = 0; i < 3; i++) await first.publish('cmd', incr);
    await expect.poll(() => counts([first], ['a', 'b'])).toEqual({ a: '3', b: '3' });
    await first.stop();

    // A publisher that runs no module: the events wait in the table for the owner.
    const publisher = await replica(url, 'publisher', []);
    await publisher.publish('cmd', incr);
    await publisher.publish('cmd', incr);
    const second = await replica(url, 'solo', [counter('a'), counter('b')]);
    for (const [name, epoch] of second.owned()) expect(epoch).toBeGreaterThan(epochs.get(name)!);
    await expect.poll(() => counts([second], ['a', 'b'])).toEqual({ a: '5', b: '5' });
    await second.publish('cmd', incr);
    await expect.poll(() => counts([second], ['a', 'b'])).toEqual({ a: '6', b: '6' });
    expect(await second.cursor('a')).toEqual({ seq: 6 });

    // Published in the embedder's own transaction: a rolled-back one is never delivered, a committed one once.
    const embedder = new pg.Client({ connectionString: url });
    embedder.on('error', () => {});
    await embedder.connect();
    await embedder.query('begin');
    await second.publishIn(embedder, 'cmd', incr);
    await embedder.query('rollback');
    await embedder.query('begin');
    await second.publishIn(embedder, 'cmd', incr);
    await embedder.query('commit');
    await embedder.end();
    await expect.poll(() => counts([second], ['a', 'b'])).toEqual({ a: '7', b: '7' });

    // Who owns what, with epochs: in the metrics and in corral run's status.
    const metrics = new EngineMetrics(second);
    const text = await metrics.text();
    metrics.close();
    const epochA = second.owned().get('a')!;
    expect(text).toContain(`corral_module_epoch{module="a"} ${epochA}`);
    expect(text).toContain('corral_module_owned{module="b",replica="solo"} 1');
    const status = renderStatus(second, { config: 'engine.toml', startedAt: 0, now: 0, anvils: {}, logFile: 'x', warnings: [], ownership: await second.ownership() });
    expect(status).toContain(`store postgres · replica solo (id ${second.replica()!.id}) · owns 2 modules`);
    expect(status).toMatch(new RegExp(`^a\\s+${epochA}\\s`, 'm'));
    await second.stop();
    await publisher.stop();
  });

  it('behavior: every session of the replica ended by the server (a PostgreSQL blip): its modules stop, it reconnects, re-acquires them with new epochs and goes on, nothing lost or doubled', async () => {
    const db = await freshDatabase();
    const engine = await replica(db, 'blip', [counter('p'), counter('q')]);
    const events: OwnershipEvent[] = [];
    engine.ownership$.subscribe((e) => events.push(e));
    const before = new Map(engine.owned());
    await engine.publish('cmd', incr);
    await expect.poll(() => counts([engine], ['p', 'q'])).toEqual({ p: '1', q: '1' });
    const admin = new pg.Client({ connectionString: db });
    admin.on('error', () => {});
    await admin.connect();
    await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
    await admin.end();
    await expect.poll(() => events.filter((e) => e.kind === 'lost' && e.reason === 'lease').map((e) => e.module).sort(), { timeout: 30_000 }).toEqual(['p', 'q']);
    await expect.poll(() => [...engine.owned().keys()].sort(), { timeout: 30_000 }).toEqual(['p', 'q']);
    for (const [name, epoch] of engine.owned()) expect(epoch).toBeGreaterThan(before.get(name)!);
    await engine.publish('cmd', incr);
    await expect.poll(() => counts([engine], ['p', 'q'])).toEqual({ p: '2', q: '2' });
    await engine.stop();
  });

  it('behavior: a commit fenced by another epoch stops only that module; it is released, acquired again with a newer epoch, and the event is handled once', async () => {
    const db = await freshDatabase();
    const engine = await replica(db, 'fence', [counter('f'), counter('g')]);
    const events: OwnershipEvent[] = [];
    engine.ownership$.subscribe((e) => events.push(e));
    await engine.publish('cmd', incr);
    await expect.poll(() => counts([engine], ['f', 'g'])).toEqual({ f: '1', g: '1' });
    const before = engine.owned().get('f')!;
    // Another party bumps f's epoch behind the lease's back: f's next commit finds it and writes nothing.
    const admin = new pg.Client({ connectionString: db });
    admin.on('error', () => {});
    await admin.connect();
    await admin.query(`update corral.modules set epoch = epoch + 1 where name = 'f'`);
    await admin.end();
    await engine.publish('cmd', incr);
    await expect.poll(() => events.filter((e) => e.kind === 'lost').map((e) => [e.module, e.reason])).toEqual([['f', 'fenced']]);
    await expect.poll(() => engine.owned().get('f') ?? 0n, { timeout: 30_000 }).toBeGreaterThan(before + 1n);
    await expect.poll(() => counts([engine], ['f', 'g'])).toEqual({ f: '2', g: '2' });
    expect(events.filter((e) => e.module === 'g')).toEqual([]);
    await engine.stop();
  });

  it('error: a module its component does not fit (an import not granted) fails the start, as on LevelDB, and leaves its lease free', async () => {
    const db = await freshDatabase();
    const refused = await replica(db, 'bad', [{ ...counter('x'), grants: { store: true } }]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LoadError);
    const good = await replica(db, 'good', [counter('x')]);
    expect([...good.owned().keys()]).toEqual(['x']);
    await good.stop();
  });

  it('behavior: a load that fails after the module began serving takes it down whole: placement acquires it again (a new epoch) and it serves', async () => {
    const own = await freshDatabase();
    const engine = await replica(own, 'blip', []);
    const events: string[] = [];
    engine.ownership$.subscribe((e) => events.push(`${e.kind} ${e.epoch}`));
    // A fault injected at one point, after the module began serving (its feeds, timers and jobs run):
    // the start of its custom feed fails once, as a database blip there would (which a real server cannot
    // be made to do on cue).
    const original = ModuleRuntime.prototype.startCustom;
    let failures = 1;
    ModuleRuntime.prototype.startCustom = async function (this: ModuleRuntime, store) {
      if (failures-- > 0) throw new Error('injected: the connection dropped');
      return original.call(this, store);
    };
    try {
      await engine.load(counter('z'));
      await expect.poll(() => engine.owned().has('z')).toBe(true);
      expect(events.slice(0, 3)).toEqual(['acquired 1', 'released 1', 'acquired 2']);
      // Serving once its custom feed stands at the table's head (a module new to the table starts there).
      await expect.poll(() => engine.cursor('z').catch(() => undefined)).toEqual({ seq: 0 });
      await engine.publish('cmd', incr);
      await expect.poll(() => counts([engine], ['z'])).toEqual({ z: '1' });
    } finally {
      ModuleRuntime.prototype.startCustom = original;
      await engine.stop();
    }
  });

  it('behavior: events published after a module was first acquired reach it, though that first owner never loaded it (its load failed here; in a cluster, a replica stalled past its lease between acquire and load): the start position is taken with the first epoch, not by the first load', async () => {
    const db = await freshDatabase();
    // The first owner acquires x (epoch 1) and cannot load it: it commits nothing of x.
    const refused = await replica(db, 'bad', [{ ...counter('x'), grants: { store: true } }]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LoadError);
    const publisher = await replica(db, 'publisher', []);
    await publisher.publish('cmd', incr);
    await publisher.publish('cmd', incr);
    // The next owner reads on from where x stood when first acquired: both events, once.
    const good = await replica(db, 'good', [counter('x')]);
    // Not necessarily in its first round: while it is new, the publisher may be the only replica past the join delay.
    await expect.poll(() => good.owned().get('x'), { timeout: 30_000 }).toBe(2n);
    await expect.poll(() => good.cursor('x')).toEqual({ seq: 2 });
    expect(await counts([good], ['x'])).toEqual({ x: '2' });
    await good.stop();
    await publisher.stop();
  });

  it('behavior: a second engine joins and, after the join delay, takes modules over by handover: never two owners at once, epochs rising, no event lost or doubled', async () => {
    const db = await freshDatabase();
    const names = Array.from({ length: 6 }, (_, i) => `m${i}`);
    const modules = names.map(counter);
    const log: { replica: string; event: OwnershipEvent }[] = [];
    /** What an engine owned when its start returned, then every change after. */
    const follow = (engine: Engine, name: string) => {
      for (const [module, epoch] of engine.owned()) log.push({ replica: name, event: { kind: 'acquired', module, epoch } });
      engine.ownership$.subscribe((event) => log.push({ replica: name, event }));
    };
    const a = await replica(db, 'a', modules);
    follow(a, 'a');
    expect(a.owned().size).toBe(6);
    let published = 0;
    const publishSome = async (n: number) => {
      for (let i = 0; i < n; i++, published++) await a.publish('cmd', incr);
    };
    await publishSome(5);
    const joining = replica(db, 'b', modules);
    // Events keep coming while b joins and the modules move.
    await publishSome(10);
    const b = await joining;
    follow(b, 'b');
    await publishSome(5);
    await expect.poll(() => b.owned().size, { timeout: 30_000 }).toBeGreaterThan(0);
    await publishSome(5);
    await expect.poll(() => a.owned().size + b.owned().size, { timeout: 30_000 }).toBe(6);
    expect(a.owned().size).toBeGreaterThan(0);
    const engines = [a, b];
    await expect.poll(() => counts(engines, names), { timeout: 30_000 }).toEqual(Object.fromEntries(names.map((n) => [n, String(published)])));

    // One owner at a time, in the order the events happened in this process; each acquire a new epoch.
    const owner = new Map<string, string>();
    const lastEpoch = new Map<string, bigint>();
    for (const { replica: r, event } of log) {
      if (event.kind === 'acquired') {
        expect(owner.get(event.module), `${event.module} acquired by ${r} while ${owner.get(event.module)} owned it`).toBeUndefined();
        expect(event.epoch).toBeGreaterThan(lastEpoch.get(event.module) ?? 0n);
        owner.set(event.module, r);
        lastEpoch.set(event.module, event.epoch);
      } else {
        expect(owner.get(event.module)).toBe(r);
        owner.delete(event.module);
      }
    }
    expect(log.some((l) => l.replica === 'a' && l.event.kind === 'released' && l.event.reason === 'handover')).toBe(true);

    const heldByB = [...b.owned().keys()][0]!;
    const refused = (await a.enqueue(heldByB, 'task', ['x']).catch((e: unknown) => e)) as EngineError;
    expect(refused).toBeInstanceOf(EngineError);
    expect(refused.code).toBe('module-held');

    await a.stop();
    // a's modules go to b at once: it is the only replica left.
    await expect.poll(() => b.owned().size, { timeout: 30_000 }).toBe(6);
    await b.publish('cmd', incr);
    published++;
    await expect.poll(() => counts([b], names), { timeout: 30_000 }).toEqual(Object.fromEntries(names.map((n) => [n, String(published)])));
    await b.stop();
  });
});
