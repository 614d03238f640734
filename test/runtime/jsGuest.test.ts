import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionTimeout, Trap, type CallFailure, type Component, type Runtime } from '../../src/index.ts';
import { fixture, newRuntime } from '../helpers.ts';

// A guest written in JavaScript, compiled to a component by componentize-qjs (QuickJS inside).
const runtime: Runtime = newRuntime();
let guest: Component;
const relayed: string[] = [];
beforeAll(async () => {
  guest = await runtime.load(fixture('js-guest'), {
    imports: {
      'corral-fixtures:js-guest/host': {
        echo: (s: string) => {
          relayed.push(s);
          return s.toUpperCase();
        },
      },
    },
    limits: { timeoutMs: 2_000 },
  });
});
afterAll(() => runtime.close());

describe('JavaScript guest (componentize-qjs)', () => {
  it('default: strings in and out', async () => {
    expect((await guest.call('greet', ['corral'])).value).toBe('hello, corral!');
  });

  it('args: a list in, a u64 out', async () => {
    expect((await guest.call('sum', [new Uint32Array([1, 2, 3, 4_000])])).value).toBe(4_006n);
  });

  it('behavior: JSON work in the guest; on fresh instances (maxUses 1) fuel is identical run to run', async () => {
    // QuickJS keeps state between calls (heap, GC thresholds), so a reused instance may charge a
    // little differently; a fresh instance per call makes fuel exactly repeatable.
    const fresh = await runtime.load(fixture('js-guest'), { name: 'fresh', imports: guest.imports, pool: { maxUses: 1 } });
    const text = JSON.stringify({ a: [1, 2, 3], b: { c: 'd' } });
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await fresh.call('reformat', [text, 20]));
    expect(JSON.parse(runs[0]!.value as string)).toEqual(JSON.parse(text));
    expect(new Set(runs.map((r) => r.fuelUsed)).size).toBe(1);
    expect(fresh.stats().recycled.maxUses).toBe(3);
  });

  it('behavior: the guest calls its host import', async () => {
    expect((await guest.call('relay', ['ping'])).value).toBe('PING');
    expect(relayed).toContain('ping');
  });

  it('deadline: an infinite JavaScript loop ends in ExecutionTimeout', async () => {
    const outcome = (await guest.invoke('spin', [], { timeoutMs: 30, fuel: Number.MAX_SAFE_INTEGER })) as CallFailure;
    expect(outcome.signal).toBeInstanceOf(ExecutionTimeout);
  });

  it('trap: a thrown JavaScript error traps', async () => {
    const outcome = (await guest.invoke('fail', ['boom'])) as CallFailure;
    expect(outcome.signal).toBeInstanceOf(Trap);
    expect((await guest.call('greet', ['again'])).value).toBe('hello, again!');
  });
});
