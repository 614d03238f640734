import { afterAll, describe, expect, it } from 'vitest';
import { runBatch, type BatchLine } from '../../src/batch/runBatch.ts';
import { BatchSummary } from '../../src/batch/summary.ts';
import { BatchError } from '../../src/errors/BatchError.ts';
import { fixture, newRuntime } from '../helpers.ts';

/** What batch-mixed's `run(i)` ends in, by `i % 4`. */
const EXPECTED = ['value', 'OutOfFuel', 'ExecutionTimeout', 'Trap'] as const;
const outcome = (line: BatchLine) => (line.ok ? 'value' : (line.signal!.signal as string));

describe('runBatch', () => {
  const runtime = newRuntime({ threads: 2 });
  afterAll(() => runtime.close());
  // Fuel ends a spin within microseconds; the deadline only ever decides the sleeper.
  const limits = { fuel: 20_000, timeoutMs: 40 };

  it('behavior: 1,000 inputs with mixed outcomes give one line each, in input order, each its input\'s outcome', async () => {
    const component = await runtime.load(fixture('batch-mixed'), { limits });
    const lines: BatchLine[] = [];
    const summary = new BatchSummary();
    for await (const line of runBatch(component, 'run', Array.from({ length: 1_000 }, (_, i) => [i]))) {
      lines.push(line);
      summary.add(line);
    }
    expect(lines.map((l) => l.index)).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    for (const line of lines) {
      expect(outcome(line)).toBe(EXPECTED[line.index % 4]);
      expect(line.memoryBytes).toBe(65_536);
      if (line.ok) expect(line.value).toBe(3 * line.index + 1);
    }
    expect(lines[1]).toMatchObject({ fuel: 20_000, signal: { signal: 'OutOfFuel', fuelLimit: 20_000 } });
    expect(lines[3]).toMatchObject({ fuel: null, signal: { signal: 'Trap', code: 'unreachable' } });
    expect(lines[1]!.signal).not.toHaveProperty('invocationId');
    expect(summary.report()).toMatchObject({ inputs: 1_000, ran: 1_000, kept: 0, outcomes: { value: 250, OutOfFuel: 250, ExecutionTimeout: 250, Trap: 250 } });
    expect(summary.report().fuel).toMatchObject({ max: 20_000 });
  });

  it('behavior: a full reorder buffer stops intake behind a slow input; lines that finished ahead are announced', async () => {
    const component = await runtime.load(fixture('batch-mixed'), { limits });
    let pulled = 0;
    function* inputs() {
      // Input 0 sleeps until its deadline; every one after it returns at once.
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield [i === 0 ? 2 : 4 * i];
      }
    }
    const ahead: number[] = [];
    let pulledAtFirst = -1;
    const indices: number[] = [];
    for await (const line of runBatch(component, 'run', inputs(), { inFlight: 2, reorderMax: 4, onAhead: (l) => ahead.push(l.index) })) {
      if (line.index === 0) pulledAtFirst = pulled;
      indices.push(line.index);
    }
    // The slow input, up to 4 finished behind it and 1 more running: no further input was read.
    expect(pulledAtFirst).toBeLessThanOrEqual(6);
    expect(indices).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(ahead.length).toBeGreaterThan(0);
    expect(ahead.every((i) => i > 0)).toBe(true);
  });

  it('behavior: skipped inputs take their index and yield nothing', async () => {
    const component = await runtime.load(fixture('batch-mixed'), { limits });
    const indices: number[] = [];
    for await (const line of runBatch(component, 'run', [[0], [4], [8], [12]], { skip: (i) => i === 1 || i === 2 })) indices.push(line.index);
    expect(indices).toEqual([0, 3]);
  });

  it('error: an input that is no argument list, or that the runtime refuses, ends the batch naming it; deterministic needs fresh instances', async () => {
    const component = await runtime.load(fixture('batch-mixed'), { limits });
    const drain = async (inputs: unknown[][]) => {
      for await (const _ of runBatch(component, 'run', inputs)) void _;
    };
    await expect(drain([[0], 'x' as unknown as unknown[]])).rejects.toMatchObject({ name: 'BatchError', code: 'bad-input', details: { index: 1 } });
    await expect(drain([[0], [1, 2]])).rejects.toMatchObject({ name: 'BatchError', code: 'input-refused', details: { index: 1 } });
    await expect(drain([[0]]).then(() => runBatch(component, 'run', [], { deterministic: true }).next())).rejects.toBeInstanceOf(BatchError);
    await expect(runBatch(component, 'run', [], { inFlight: 0 }).next()).rejects.toMatchObject({ code: 'invalid-option' });
  });

  it('behavior: deterministic on a fresh-instance, deterministic-WASI component: the sleeper runs out of fuel, the same on every run', async () => {
    const component = await runtime.load(fixture('batch-mixed'), { limits: { fuel: 20_000, timeoutMs: 10_000 }, wasi: { deterministic: { seed: 0 } } });
    const run = async () => {
      const lines: BatchLine[] = [];
      for await (const line of runBatch(component, 'run', Array.from({ length: 40 }, (_, i) => [i]), { deterministic: true })) lines.push({ ...line, wallMs: 0 });
      return lines;
    };
    const first = await run();
    expect(first[2]).toMatchObject({ ok: false, signal: { signal: 'OutOfFuel' } });
    expect(await run()).toEqual(first);
  });
});
