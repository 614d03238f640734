import { describe, expect, it } from 'vitest';
import { DoesNotFit, ValueReader, ValueWriter, encodedSize } from '../../src/runtime/valueCodec.ts';
import { readReply, readTask, writeReply, writeTask, type CallReply, type CallTask } from '../../src/runtime/protocol.ts';

// The codec of the call slots (src/runtime/valueCodec.ts): what crosses between threads must come
// back as structured clone would have delivered it, and never share memory with the reused region.
function roundTrip(value: unknown, bytes = 1 << 16): unknown {
  const shared = new SharedArrayBuffer(bytes);
  new ValueWriter(shared, 0, bytes).write(value);
  return new ValueReader(shared, 0, bytes).rewind().next();
}

describe('valueCodec', () => {
  it('default: every kind of value the component glue deals in comes back equal, in kind and value', () => {
    const values = {
      nothing: [undefined, null, true, false],
      numbers: [0, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 1.5, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER],
      bigints: [0n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, -(2n ** 70n)],
      strings: ['', 'ascii', 'x'.repeat(33), 'héllo wörld ✓', '𝄞 and a lone \ud800'.slice(0, 8), 'ü'.repeat(100)],
      bytes: new Uint8Array([0, 1, 255]),
      typed: [new Uint32Array([1, 2, 3]), new Float64Array([0.5, -0]), new BigInt64Array([-5n]), new Int8Array([-1])],
      variant: { tag: 'log', val: { topics: [new Uint8Array(32).fill(7)], data: new Uint8Array(300), index: 3 } },
      option: { present: 1, absent: undefined },
    };
    expect(roundTrip(values)).toStrictEqual(values);
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(roundTrip(new Float64Array([-0]))).toStrictEqual(new Float64Array([-0]));
  });

  it('behavior: values outside plain data keep structured-clone semantics (Map, Date, Error, a class instance, a cycle)', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    expect(roundTrip(new Map([[1, 'a']]))).toStrictEqual(new Map([[1, 'a']]));
    expect(roundTrip(new Date(5))).toStrictEqual(new Date(5));
    expect(roundTrip(new Error('no'))).toMatchObject({ message: 'no' });
    expect(roundTrip(new Point(1, 2))).toStrictEqual({ x: 1, y: 2 }); // as structured clone: own fields, plain object
    const back = roundTrip(cyclic) as Record<string, unknown>;
    expect(back.self).toBe(back);
    expect(() => roundTrip({ f: () => 1 })).toThrow(/could not be cloned/);
  });

  it('behavior: decoded bytes own their memory; the region can be written again without changing them', () => {
    const shared = new SharedArrayBuffer(1024);
    const writer = new ValueWriter(shared, 0, 1024);
    const reader = new ValueReader(shared, 0, 1024);
    writer.write(new Uint8Array([1, 2, 3]));
    const first = reader.rewind().next() as Uint8Array;
    writer.write(new Uint8Array([9, 9, 9]));
    expect([...first]).toEqual([1, 2, 3]);
    expect(first.buffer).not.toBe(shared);
    expect(first.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('error: a value larger than the region raises DoesNotFit, and encodedSize says how large it is', () => {
    const big = 'y'.repeat(5_000);
    expect(() => roundTrip(big, 4_096)).toThrow(DoesNotFit);
    expect(encodedSize(big)).toBe(5 + 5_000);
    expect(() => roundTrip([new Uint8Array(4_000), new Uint8Array(4_000)], 4_096)).toThrow(DoesNotFit);
  });

  it('behavior: a `__proto__` key stays an own property; objects structured clone refuses are refused', () => {
    const parsed = JSON.parse('{"__proto__":{"isAdmin":true},"name":"x"}') as Record<string, unknown>;
    const back = roundTrip(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(back.isAdmin).toBeUndefined();
    expect(Object.keys(back)).toEqual(['__proto__', 'name']);
    expect(() => roundTrip({ pending: Promise.resolve(1) })).toThrow(/could not be cloned/);
    expect(() => roundTrip(new WeakMap())).toThrow(/could not be cloned/);
  });
  it('behavior: a reader that returns short strings it read before returns each message\'s own strings, whatever fills its cache', () => {
    const shared = new SharedArrayBuffer(1 << 16);
    const writer = new ValueWriter(shared, 0, 1 << 16);
    const reader = new ValueReader(shared, 0, 1 << 16);
    // More distinct strings than the cache has slots, of equal lengths (their hashes collide), read
    // three times over: each read must be the string written, never one the cache held for its slot.
    const strings = Array.from({ length: 2_000 }, (_, i) => `k${(i * 7919).toString(36).padStart(6, '0')}`);
    for (let pass = 0; pass < 3; pass++) {
      for (const s of strings) {
        writer.write({ [s]: s });
        expect(reader.rewind().next()).toStrictEqual({ [s]: s });
      }
    }
    writer.write('ab', 'ba', 'ab', '');
    reader.rewind();
    expect([reader.next(), reader.next(), reader.next(), reader.next()]).toEqual(['ab', 'ba', 'ab', '']);
  });

  it('behavior: values added one by one read back in order; one nested past the depth limit crosses alone by v8.serialize', () => {
    const shared = new SharedArrayBuffer(1 << 16);
    const writer = new ValueWriter(shared, 0, 1 << 16);
    const reader = new ValueReader(shared, 0, 1 << 16);
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i++) deep = [deep];
    writer.begin().add(1).add(deep).add({ after: 'it' });
    reader.rewind();
    expect([reader.next(), reader.next(), reader.next()]).toStrictEqual([1, deep, { after: 'it' }]);
  });

  it('behavior: a task and a reply cross the slot\'s fixed layouts with every field they carry, and only those', () => {
    const shared = new SharedArrayBuffer(1 << 16);
    const writer = new ValueWriter(shared, 0, 1 << 16);
    const reader = new ValueReader(shared, 0, 1 << 16);
    const plain: CallTask = { componentId: 'c#1', exportPath: ['iface', 'fn'], exportName: 'iface.fn', args: [1, 'two', new Uint8Array([3])], fuel: 10, timeoutMs: 2.5, invocationId: 'id' };
    const full: CallTask = { ...plain, each: 'err', prewarm: true, wasiJournal: { replay: [] } };
    for (const task of [plain, full, { ...plain, wasiJournal: 'record' as const }]) {
      writeTask(writer, task);
      expect(readTask(reader)).toStrictEqual(task);
    }
    const replies: CallReply[] = [
      { ok: true, value: { tag: 'ok', val: 3n }, fuelUsed: 7, durationMs: 0.25, startedAt: 1.5e12, memoryBytes: 131_072 },
      { ok: true, value: undefined, fuelUsed: 0, durationMs: 1, startedAt: 2, memoryBytes: 65_536, output: { stdout: 'hi', stderr: '', truncated: false } },
      { ok: false, signal: { signal: 'Trap', component: 'c', exportName: 'f', invocationId: 'id', code: 'unknown', message: 'no' }, durationMs: 1, startedAt: 2, memoryBytes: 65_536, index: 4, notLoaded: true },
    ];
    for (const reply of replies) {
      writeReply(writer, reply);
      expect(readReply(reader)).toStrictEqual(reply);
    }
  });
});
