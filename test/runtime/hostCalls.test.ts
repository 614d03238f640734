import { afterAll, describe, expect, it } from 'vitest';
import { ExecutionTimeout, Trap, type CallFailure, type Component, type Runtime } from '../../src/index.ts';
import { InvocationEnded, invocationSignal } from '../../src/runtime/HostImports.ts';
import { deferred, fixture, hostCallerImports, newRuntime } from '../helpers.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

describe('host imports', () => {
  it('default: strings cross to the host and back', async () => {
    const caller = await runtime.load(fixture('host-caller'), { imports: hostCallerImports() });
    expect((await caller.call('call-echo', ['ünïcode ✓'])).value).toBe('host:ünïcode ✓');
  });

  it('behavior: an async host function is awaited while the guest blocks; its time does not count as fuel', async () => {
    // The host really takes time (50 ms at least: a timer never fires early), and the same call
    // against a host that answers at once uses exactly the same fuel.
    const inHost = deferred();
    const caller = await runtime.load(fixture('host-caller'), {
      name: 'waits',
      imports: hostCallerImports({
        slow: (ms: number) => {
          inHost.resolve();
          return new Promise<number>((resolve) => setTimeout(() => resolve(ms), 50));
        },
      }),
      limits: { timeoutMs: 10_000 },
    });
    const immediate = await runtime.load(fixture('host-caller'), { name: 'answers-at-once', imports: hostCallerImports({ slow: (ms: number) => ms }) });
    const call = caller.call('call-slow', [7]);
    await inHost.promise;
    const result = await call;
    expect(result.value).toBe(7);
    expect(result.durationMs).toBeGreaterThanOrEqual(49);
    const baseline = await immediate.call('call-slow', [7]);
    expect(baseline.value).toBe(7);
    expect(result.fuelUsed).toBe(baseline.fuelUsed);
  });

  it('error: a host function that throws becomes Trap host-error with the error attached', async () => {
    const caller = await runtime.load(fixture('host-caller'), { imports: hostCallerImports() });
    const outcome = (await caller.invoke('call-fail')) as CallFailure;
    expect(outcome.ok).toBe(false);
    expect(outcome.signal).toBeInstanceOf(Trap);
    const trap = outcome.signal as Trap;
    expect(trap.code).toBe('host-error');
    expect(trap.hostError).toMatchObject({ name: 'TypeError', message: 'host says no' });
    expect((await caller.call('call-echo', ['still fine'])).value).toBe('host:still fine');
  });

  it('deadline: time in a host call counts; a host that never answers ends in ExecutionTimeout, worker kept', async () => {
    const never = deferred<number>();
    const caller = await runtime.load(fixture('host-caller'), {
      imports: hostCallerImports({ slow: () => never.promise }),
      limits: { timeoutMs: 40 },
    });
    const outcome = (await caller.invoke('call-slow', [1])) as CallFailure;
    expect(outcome.signal).toBeInstanceOf(ExecutionTimeout);
    expect((outcome.signal as ExecutionTimeout).terminated).toBe(false);
    expect((outcome.signal as ExecutionTimeout).elapsedMs).toBeGreaterThanOrEqual(40);
    // The late answer is dropped, and the next call on the same component is served normally.
    never.resolve(99);
    expect((await caller.call('call-echo', ['next'])).value).toBe('host:next');
  });

  it('behavior: an instance has at most one host call in flight: a host function that calls the component again is served by another instance, the first being blocked in its host call', async () => {
    // The guest that called `slow` is blocked in it (its worker waits on the channel); the nested
    // call cannot be served by that instance, so the pool hands out a second one on the other worker.
    let nested: Promise<unknown> | undefined;
    const entered: string[] = [];
    const reentrant: Component = await runtime.load(fixture('host-caller'), {
      name: 'reentrant',
      limits: { timeoutMs: 10_000 },
      imports: hostCallerImports({
        slow: async (ms: number) => {
          entered.push(`slow:${ms}`);
          nested = reentrant.call('call-echo', ['inner']);
          const { value } = (await nested) as { value: string };
          entered.push(value);
          return ms;
        },
        echo: (s: string) => {
          entered.push(`echo:${s}`);
          expect(reentrant.stats().inUse).toBe(2); // the outer instance is still out, in its host call
          return `host:${s}`;
        },
      }),
    });
    expect((await reentrant.call('call-slow', [5])).value).toBe(5);
    expect(entered).toEqual(['slow:5', 'echo:inner', 'host:inner']);
    expect(reentrant.stats()).toMatchObject({ created: 2, inUse: 0, checkouts: 2 });
  });

  it('behavior: many host calls in one invocation', async () => {
    let count = 0;
    const caller = await runtime.load(fixture('host-caller'), { imports: hostCallerImports({ nop: () => void count++ }) });
    await caller.call('call-nop', [500], { timeoutMs: 10_000 });
    expect(count).toBe(500);
  });

  it('error: arguments or a result larger than the host-call buffer end the call in a Trap naming the sizes', async () => {
    const small = newRuntime({ hostCallBufferBytes: 64 * 1024 });
    try {
      const caller = await small.load(fixture('host-caller'), { imports: hostCallerImports({ echo: (s: string) => (s === 'grow' ? 'x'.repeat(100_000) : s) }) });
      const result = (await caller.invoke('call-echo', ['grow'])) as CallFailure;
      expect(result.signal).toBeInstanceOf(Trap);
      expect((result.signal as Trap).toData()).toMatchObject({
        code: 'host-error',
        hostError: { name: 'HostCallTooLarge', direction: 'result', capacity: 64 * 1024, function: 'corral-fixtures:host-caller/host#echo', bytes: expect.any(Number) },
      });
      expect((result.signal as Trap).toData().hostError!.bytes).toBeGreaterThan(100_000);
      const args = (await caller.invoke('call-echo', ['y'.repeat(100_000)])) as CallFailure;
      expect((args.signal as Trap).toData()).toMatchObject({ code: 'host-error', hostError: { name: 'HostCallTooLarge', direction: 'arguments', capacity: 64 * 1024 } });
      expect((await caller.call('call-echo', ['fits'])).value).toBe('fits'); // and the component serves on
    } finally {
      await small.close();
    }
  });

  it.each([
    ['its deadline passes', 'ended'],
    ['it is killed', 'killed'],
    ['its component is unloaded', 'unloaded'],
    ['the runtime closes', 'closed'],
  ] as const)('behavior: a host call still at work sees its invocation\'s signal abort when %s (InvocationEnded %s)', async (_when, why) => {
    const own = why === 'closed' ? newRuntime({ closeTimeoutMs: 50 }) : runtime;
    const inHost = deferred<AbortSignal | undefined>();
    const caller = await own.load(fixture('host-caller'), {
      name: `abort-${why}`,
      // Never answers by itself: only the signal says the invocation gave up on it.
      imports: hostCallerImports({ slow: () => (inHost.resolve(invocationSignal()), new Promise<number>(() => {})) }),
      limits: { timeoutMs: why === 'ended' ? 40 : 60_000 },
    });
    const outcome = caller.invoke('call-slow', [1]);
    const signal = await inHost.promise;
    expect(signal?.aborted).toBe(false);
    const aborted = new Promise<void>((resolve) => signal!.addEventListener('abort', () => resolve(), { once: true }));
    if (why === 'killed') caller.kill();
    if (why === 'unloaded') caller.close();
    const closed = why === 'closed' ? own.close() : undefined;
    await aborted;
    expect(signal!.reason).toBeInstanceOf(InvocationEnded);
    expect((signal!.reason as InvocationEnded).why).toBe(why);
    if (why === 'unloaded') own.kill(caller); // an unloaded component's call in flight still runs to its end
    await outcome;
    await closed;
  });

  it('behavior: a host function that asks for its invocation\'s signal only after an await, once the invocation ended, gets it aborted (InvocationEnded ended)', async () => {
    const asked = deferred<AbortSignal | undefined>();
    const release = deferred<void>();
    const caller = await runtime.load(fixture('host-caller'), {
      name: 'abort-asked-late',
      imports: hostCallerImports({
        slow: async () => {
          await release.promise;
          asked.resolve(invocationSignal());
          return 1;
        },
      }),
      limits: { timeoutMs: 40 },
    });
    const outcome = await caller.invoke('call-slow', [1]);
    expect(outcome.ok).toBe(false); // its deadline passed while the host function waited
    release.resolve();
    const signal = await asked.promise;
    expect(signal?.aborted).toBe(true);
    expect(signal!.reason).toBeInstanceOf(InvocationEnded);
    expect((signal!.reason as InvocationEnded).why).toBe('ended');
  });
});
