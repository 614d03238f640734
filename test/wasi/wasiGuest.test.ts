import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionTimeout, MemoryLimitExceeded, OutOfFuel, type CallFailure, type CallSuccess, type Runtime } from '../../src/index.ts';
import { fixture, newRuntime } from '../helpers.ts';

// A componentize-js (StarlingMonkey) component built from fixtures/wasi-guest at test time: it imports
// 18 WASI 0.2.10/0.2.12 interfaces, as a user's build does. StarlingMonkey spends ~7M fuel on a warm
// call of a trivial export (its interpreter's dispatch blocks are charged whole), so the calls here get a
// budget far above corral's default. An `ok` result comes back as the value itself, an `err` as { tag, val }.
// A fresh instance's first call also runs StarlingMonkey's lazy setup: the deadline is generous too
// (the deadline test sets its own), so a loaded machine cannot turn a call into ExecutionTimeout.
const LIMITS = { fuel: 5_000_000_000, timeoutMs: 10_000 };
const guest = fixture('wasi-guest');
const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'corral-wasi-'));
  mkdirSync(join(dir, 'data', 'nested'), { recursive: true });
  writeFileSync(join(dir, 'data', 'hello.txt'), 'hello from the host\n');
  writeFileSync(join(dir, 'data', 'nested', 'deep.txt'), 'deep');
  writeFileSync(join(dir, 'secret.txt'), 'outside the grant');
  symlinkSync(join(dir, 'secret.txt'), join(dir, 'data', 'leak.txt'));
  symlinkSync('/etc', join(dir, 'data', 'etc'));
  symlinkSync('nested/deep.txt', join(dir, 'data', 'inside.txt'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ok = (outcome: CallSuccess | CallFailure) => {
  if (!outcome.ok) throw outcome.signal;
  return outcome;
};

describe('WASI guests (componentize-js)', () => {
  it('default: a componentize-js component loads with no options and runs; its stdout and stderr come back with the call', async () => {
    const component = await runtime.load(guest, { limits: LIMITS });
    expect(ok(await component.invoke('add', [2, 3])).value).toBe(5);
    const greeted = ok(await component.invoke('greet', ['ann']));
    expect(greeted.value).toBe('hi ann');
    expect(greeted.output).toEqual({ stdout: 'hello, ann\n', stderr: 'greeted ann\n', truncated: false });
    expect(ok(await component.invoke('add', [1, 1])).output).toBeUndefined(); // nothing written, nothing carried
  });

  it('behavior: output past outputBytes (stdout and stderr together) is dropped and flagged', async () => {
    const component = await runtime.load(guest, { name: 'quiet', limits: LIMITS, wasi: { outputBytes: 14 } });
    expect(ok(await component.invoke('greet', ['bob'])).output).toEqual({ stdout: 'hello, bob\n', stderr: 'gre', truncated: true });
  });

  it('limits: fuel, the deadline and the memory cap each stop it with their signal, and it serves on', async () => {
    const component = await runtime.load(guest, { name: 'limited', limits: { ...LIMITS, memoryBytes: 64 * 1024 * 1024 } });
    const fuel = (await component.invoke('spin', [0], { fuel: 200_000_000 })) as CallFailure;
    expect(fuel.signal).toBeInstanceOf(OutOfFuel);
    const deadline = (await component.invoke('spin', [0], { timeoutMs: 200, fuel: 1e15 })) as CallFailure;
    expect(deadline.signal).toBeInstanceOf(ExecutionTimeout);
    expect(deadline.signal).toMatchObject({ terminated: false });
    const memory = (await component.invoke('hoard', [100])) as CallFailure;
    expect(memory.signal).toBeInstanceOf(MemoryLimitExceeded);
    expect(ok(await component.invoke('hoard', [8])).value).toBe(8);
  });

  it('deterministic: two components read identical clocks and random, and use identical fuel; without it the readings differ', async () => {
    const runs = async (wasi: { deterministic?: boolean }, name: string) => {
      const component = await runtime.load(guest, { name, limits: LIMITS, wasi });
      const first = ok(await component.invoke('entropy', []));
      const second = ok(await component.invoke('entropy', []));
      return [first, second].map((o) => ({ value: JSON.parse(o.value as string) as Record<string, unknown>, fuelUsed: o.fuelUsed }));
    };
    const [a, b] = [await runs({ deterministic: true }, 'det-a'), await runs({ deterministic: true }, 'det-b')];
    expect(b).toEqual(a);
    expect(a[1]).toEqual(a[0]); // each call starts from the same clock and seed, on a fresh instance
    expect(a[0]!.value.now).toBe(Date.UTC(2025, 0, 1));
    const [c, d] = [await runs({}, 'real-a'), await runs({}, 'real-b')];
    expect(d[0]!.value.random).not.toBe(c[0]!.value.random);
    expect(d[0]!.value.bytes).not.toEqual(c[0]!.value.bytes);
  });

  it('filesystem: without a grant there is no directory to open', async () => {
    const component = await runtime.load(guest, { name: 'no-dirs', limits: LIMITS });
    expect(ok(await component.invoke('readFile', ['hello.txt'])).value).toEqual({ tag: 'err', val: 'no preopened directory' });
  });

  it('filesystem: a read-only directory grant reads files and lists the directory, including a symlink that stays inside', async () => {
    const component = await runtime.load(guest, { name: 'reader', limits: LIMITS, wasi: { dirs: { '/data': join(dir, 'data') } } });
    expect(ok(await component.invoke('readFile', ['hello.txt'])).value).toEqual('hello from the host\n');
    expect(ok(await component.invoke('readFile', ['nested/../nested/deep.txt'])).value).toEqual('deep');
    expect(ok(await component.invoke('readFile', ['inside.txt'])).value).toEqual('deep');
    expect(ok(await component.invoke('listDir', ['.'])).value).toEqual(['etc', 'hello.txt', 'inside.txt', 'leak.txt', 'nested']);
  });

  it.each([
    ['../secret.txt', 'a `..` above the directory', 'not-permitted'],
    ['nested/../../secret.txt', 'a `..` that climbs out through a subdirectory', 'not-permitted'],
    ['/etc/passwd', 'an absolute path', 'not-permitted'],
    ['leak.txt', 'a symlink to a file outside', 'not-permitted'],
    ['etc/passwd', 'a symlink to a directory outside', 'not-permitted'],
    ['missing.txt', 'a file that does not exist', 'no-entry'],
  ])('filesystem: %s (%s) is refused with %s', async (path, _what, code) => {
    const component = await runtime.load(guest, { name: 'confined', limits: LIMITS, wasi: { dirs: { '/data': join(dir, 'data') } } });
    expect(ok(await component.invoke('readFile', [path])).value).toEqual({ tag: 'err', val: code });
  });

  it('filesystem: the grant is read-only: creating or writing a file is refused and nothing is written', async () => {
    const component = await runtime.load(guest, { name: 'writer', limits: LIMITS, wasi: { dirs: { '/data': join(dir, 'data') } } });
    expect(ok(await component.invoke('writeFile', ['new.txt', 'x'])).value).toEqual({ tag: 'err', val: 'read-only' });
    expect(ok(await component.invoke('writeFile', ['hello.txt', 'x'])).value).toEqual({ tag: 'err', val: 'read-only' });
    expect(ok(await component.invoke('listDir', ['.'])).value).toEqual(expect.not.arrayContaining(['new.txt']));
    expect(ok(await component.invoke('readFile', ['hello.txt'])).value).toEqual('hello from the host\n');
  });
});
