import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModuleManifest, Runtime } from '../../src/index.ts';
import { Engine, type OwnershipEvent } from '../../src/engine/Engine.ts';
import { EngineError } from '../../src/errors/EngineError.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';
import { freshDatabase } from '../postgres.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
const counter = (name: string): ModuleManifest => ({ name, component: fixture('counter'), grants: { store: true, logging: true }, topics: ['cmd'] });
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
    await second.stop();
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
