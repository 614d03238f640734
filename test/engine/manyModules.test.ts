import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineError, LoadError, type Runtime } from '../../src/index.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
// A long deadline: 20 first events at once on a shared machine must not time out (this is not a timing test).
const counter = (name: string, topic: string) => ({ name, component: fixture('counter'), grants: { store: true, logging: true }, limits: { fuel: 1e10, timeoutMs: 30_000 }, topics: [topic] });

function start(modules: ReturnType<typeof counter>[]) {
  return Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-many-')), logger: captureLogger().logger, clock: new ManualClock(), modules });
}

describe('engine: many modules of one component', () => {
  it('behavior: 20 modules load at once, start in their order, and each gets only the events of its own topic', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `m${String(i).padStart(3, '0')}`);
    const before = runtime.loadedComponents;
    const engine = await start(names.map((name) => counter(name, `t-${name}`)));
    try {
      expect(engine.actors().map((a) => a.name)).toEqual(names);
      expect(runtime.loadedComponents - before).toBe(20);
      // Every module one event, m000 a second one: the counts say who received what.
      await Promise.all([...names.map((name) => engine.publish(`t-${name}`, '{"op":"incr"}')), engine.publish('t-m000', '{"op":"incr"}')]);
      await Promise.all(names.map((name) => engine.settled(name)));
      expect(engine.actors().filter((a) => a.invocations !== (a.name === 'm000' ? 2 : 1) || Object.keys(a.failures ?? {}).length > 0).map((a) => [a.name, a.state, a.failures])).toEqual([]);
      const counts = await Promise.all(names.map(async (name) => text(await engine.read(name, new TextEncoder().encode('count')))));
      expect(counts).toEqual(names.map((name) => (name === 'm000' ? '2' : '1')));
    } finally {
      await engine.stop();
    }
  }, 180_000);

  it('error: a start with one module that cannot load fails whole; the others loaded beside it are closed', async () => {
    const before = runtime.loadedComponents;
    const modules = Array.from({ length: 40 }, (_, i) => counter(`m${i}`, `t${i}`));
    modules[17] = { ...modules[17]!, component: join(tmpdir(), 'no-such-component.wasm') };
    const error = await start(modules).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadError);
    expect(error).toMatchObject({ code: 'unreadable' });
    expect(runtime.loadedComponents).toBe(before);
  });

  it('error: a start listing one name twice loads nothing', async () => {
    const before = runtime.loadedComponents;
    const error = await start([counter('a', 't1'), counter('b', 't2'), counter('a', 't3')]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ code: 'duplicate-module' });
    expect(runtime.loadedComponents).toBe(before);
  });
});
