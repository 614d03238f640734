import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionTimeout, MemoryLimitExceeded, OutOfFuel, Trap, type Component, type Runtime } from '../../src/index.ts';
import { type Actor } from '../../src/actor/Actor.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { MemoryBreakerStore } from '../../src/supervisor/BreakerStore.ts';
import { type Supervisor } from '../../src/supervisor/Supervisor.ts';
import { deferred, fixture, hostCallerImports, newRuntime } from '../helpers.ts';
import { stateLog, supervised } from './helpers.ts';

const runtime: Runtime = newRuntime();
let compute: Component;
beforeAll(async () => {
  compute = await runtime.load(fixture('compute'), { limits: { fuel: 200_000, memoryBytes: 4 * 1024 * 1024 } });
});
afterAll(() => runtime.close());

const actorOf = (supervisor: Supervisor, name: string) => (supervisor as unknown as { actorsByName: Map<string, Actor> }).actorsByName.get(name)!;

/** `divide` handler: payload [a, b]; b = 0 traps. */
const divider = (name: string, extra = {}) => ({
  name,
  component: compute,
  handler: { export: 'divide', args: (e: { payload: unknown }) => e.payload as unknown[] },
  ...extra,
});

describe('actor machine, driven by real components', () => {
  it('default: loaded → running → loaded on success', async () => {
    const { supervisor } = supervised();
    supervisor.start([divider('calc')]);
    const states = stateLog(actorOf(supervisor, 'calc'));
    const outcome = await supervisor.request('calc', { kind: 'custom', payload: [84, 2] });
    expect(outcome).toMatchObject({ ok: true, value: 42 });
    await supervisor.settled('calc');
    expect(states).toEqual(['loaded', 'running', 'loaded']);
    expect(supervisor.actors()[0]).toMatchObject({ name: 'calc', state: 'loaded', breaker: 'closed', invocations: 1, mailboxDepth: 0 });
    await supervisor.stop();
  });

  it('behavior: a trap goes recycled → backoff → loaded, with Trap, BackingOff and Restarted signals', async () => {
    const { supervisor, clock, signals, types } = supervised();
    supervisor.start([divider('calc', { backoff: { initialMs: 100, jitter: 0.2 } })]);
    const actor = actorOf(supervisor, 'calc');
    const states = stateLog(actor);
    const generation = compute.stats().generation;
    const outcome = await supervisor.request('calc', { kind: 'custom', payload: [1, 0] });
    expect(!outcome.ok && 'signal' in outcome && outcome.signal).toBeInstanceOf(Trap);
    expect(states).toEqual(['loaded', 'running', 'recycled', 'backoff']);
    expect(compute.stats().generation).toBe(generation + 1);
    expect(types()).toEqual(['Trap', 'BackingOff']);
    expect(signals[1]).toMatchObject({ actor: 'calc', delayMs: 100, attempt: 1, at: 1_000 }); // random 0.5 → no jitter
    // Events wait during backoff, then run after it.
    const queued = supervisor.request('calc', { kind: 'custom', payload: [9, 3] });
    expect(supervisor.actors()[0]!.mailboxDepth).toBe(1);
    clock.advance(100);
    expect(await queued).toMatchObject({ ok: true, value: 3 });
    await supervisor.settled('calc');
    expect(states).toEqual(['loaded', 'running', 'recycled', 'backoff', 'loaded', 'running', 'loaded']);
    expect(signals.at(-1)).toMatchObject({ type: 'Restarted', actor: 'calc', at: 1_100 });
    expect(supervisor.actors()[0]).toMatchObject({ restarts: 1, failures: { Trap: 1 }, lastSignal: 'Trap' });
    await supervisor.stop();
  });

  it('behavior: a limit signal goes through exhausted first', async () => {
    const { supervisor, clock, types } = supervised();
    supervisor.start([{ name: 'worker', component: compute, handler: { export: 'work' } }]);
    const states = stateLog(actorOf(supervisor, 'worker'));
    const outcome = await supervisor.request('worker', { kind: 'custom', payload: 10_000_000 });
    expect(!outcome.ok && 'signal' in outcome && outcome.signal).toBeInstanceOf(OutOfFuel);
    expect(states).toEqual(['loaded', 'running', 'exhausted', 'recycled', 'backoff']);
    clock.advance(100);
    expect(states.at(-1)).toBe('loaded');
    expect(types()).toEqual(['OutOfFuel', 'BackingOff', 'Restarted']);
    expect(supervisor.actors()[0]!.fuelUsed.last).toBeGreaterThanOrEqual(200_000);
    await supervisor.stop();
  });

  it('behavior: backoff grows exponentially with consecutive failures and is capped', async () => {
    const { supervisor, clock, signals } = supervised();
    supervisor.start([divider('calc', { intensity: 10, backoff: { initialMs: 100, factor: 3, maxMs: 500, jitter: 0 } })]);
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await supervisor.request('calc', { kind: 'custom', payload: [1, 0] });
      const backoff = signals.filter((s) => s.type === 'BackingOff').at(-1) as { delayMs: number };
      delays.push(backoff.delayMs);
      clock.advance(backoff.delayMs);
    }
    expect(delays).toEqual([100, 300, 500, 500]);
    await supervisor.request('calc', { kind: 'custom', payload: [4, 2] });
    await supervisor.request('calc', { kind: 'custom', payload: [1, 0] });
    expect((signals.filter((s) => s.type === 'BackingOff').at(-1) as { delayMs: number }).delayMs).toBe(100); // success reset it
    await supervisor.stop();
  });

  it('behavior: intensity exceeded → quarantined → half-open probe → recovered', async () => {
    const { supervisor, clock, types, signals } = supervised();
    supervisor.start([divider('calc', { intensity: 2, periodMs: 10_000, backoff: { jitter: 0 }, breaker: { cooldownMs: 1_000 } })]);
    const states = stateLog(actorOf(supervisor, 'calc'));
    for (let i = 0; i < 2; i++) {
      await supervisor.request('calc', { kind: 'custom', payload: [1, 0] });
      clock.advance(1_000);
    }
    await supervisor.request('calc', { kind: 'custom', payload: [1, 0] });
    expect(states.at(-1)).toBe('quarantined');
    expect(types().slice(-3)).toEqual(['Trap', 'ReachedMaxRestartIntensity', 'Quarantined']);
    expect(signals.at(-1)).toMatchObject({ type: 'Quarantined', cooldownMs: 1_000, reason: 'reached-max-restart-intensity' });
    expect(supervisor.actors()[0]!.breaker).toBe('open');
    // Refused fast while open: the guest does not run.
    const invocations = supervisor.actors()[0]!.invocations;
    expect(await supervisor.request('calc', { kind: 'custom', payload: [4, 2] })).toEqual({ ok: false, refused: 'circuit-open' });
    expect(supervisor.actors()[0]!.invocations).toBe(invocations);
    clock.advance(1_000);
    expect(states.at(-1)).toBe('halfOpen');
    expect(types().at(-1)).toBe('HalfOpen');
    expect(await supervisor.request('calc', { kind: 'custom', payload: [4, 2] })).toMatchObject({ ok: true, value: 2 });
    expect(states.slice(-3)).toEqual(['halfOpen', 'probing', 'loaded']);
    expect(signals.at(-1)).toMatchObject({ type: 'Recovered', how: 'probe' });
    expect(supervisor.actors()[0]!.breaker).toBe('closed');
    await supervisor.stop();
  });

  it('behavior: a failed probe re-opens the circuit with a longer cooldown; reset() closes it by hand', async () => {
    const { supervisor, clock, signals } = supervised();
    supervisor.start([divider('calc', { intensity: 0, breaker: { cooldownMs: 1_000, factor: 3 } })]);
    await supervisor.request('calc', { kind: 'custom', payload: [1, 0] }); // intensity 0: first failure opens
    clock.advance(1_000);
    await supervisor.request('calc', { kind: 'custom', payload: [1, 0] }); // the probe fails
    expect(signals.at(-1)).toMatchObject({ type: 'Quarantined', cooldownMs: 3_000, reason: 'probe-failed' });
    clock.advance(2_999);
    expect(supervisor.actors()[0]!.state).toBe('quarantined');
    supervisor.reset('calc');
    expect(signals.at(-1)).toMatchObject({ type: 'Recovered', how: 'reset' });
    expect(await supervisor.request('calc', { kind: 'custom', payload: [6, 3] })).toMatchObject({ ok: true, value: 2 });
    await supervisor.stop();
  });

  it('behavior: a temporary actor is not restarted: it stops and refuses further events', async () => {
    const { supervisor, signals } = supervised();
    supervisor.start([divider('once', { restart: 'temporary' })]);
    await supervisor.request('once', { kind: 'custom', payload: [1, 0] });
    expect(supervisor.actors()[0]!.state).toBe('stopped');
    expect(signals.at(-1)).toMatchObject({ type: 'Stopped', reason: 'temporary' });
    expect(await supervisor.request('once', { kind: 'custom', payload: [4, 2] })).toEqual({ ok: false, refused: 'stopped' });
    supervisor.restart('once'); // stopped → loaded, by hand
    expect(await supervisor.request('once', { kind: 'custom', payload: [4, 2] })).toMatchObject({ ok: true, value: 2 });
    await supervisor.stop();
  });

  describe('restart types and the guest\'s own exit (fixture wasi-exit: run(-1) returns, run(0) exits ok, run(1) exits with an error)', () => {
    let exiting: Component;
    beforeAll(async () => {
      exiting = await runtime.load(fixture('wasi-exit'), { name: 'exiting' });
    });
    const exiter = (restart: 'permanent' | 'transient' | 'temporary') => ({ name: restart, component: exiting, restart, handler: { export: 'run', args: (e: { payload: unknown }) => e.payload as unknown[] } });

    it('behavior: a transient actor whose guest exits normally stops (Stopped normal), is not restarted, and serves again after restart()', async () => {
      const { supervisor, types, signals } = supervised();
      supervisor.start([exiter('transient')]);
      expect(await supervisor.request('transient', { kind: 'custom', payload: [0] })).toMatchObject({ ok: true });
      expect(supervisor.actors()[0]).toMatchObject({ state: 'stopped', restarts: 0 });
      expect(signals.at(-1)).toMatchObject({ type: 'Stopped', actor: 'transient', reason: 'normal' });
      expect(types()).not.toContain('BackingOff');
      expect(await supervisor.request('transient', { kind: 'custom', payload: [-1] })).toEqual({ ok: false, refused: 'stopped' });
      supervisor.restart('transient');
      expect(await supervisor.request('transient', { kind: 'custom', payload: [-1] })).toMatchObject({ ok: true, value: 7 });
      await supervisor.stop();
    });

    it('behavior: a transient actor whose guest exits with an error (a signal) is restarted like a permanent one', async () => {
      const { supervisor, clock, signals } = supervised();
      supervisor.start([{ ...exiter('transient'), backoff: { jitter: 0 } }]);
      const outcome = await supervisor.request('transient', { kind: 'custom', payload: [1] });
      expect(!outcome.ok && 'signal' in outcome && outcome.signal).toBeInstanceOf(Trap);
      expect(!outcome.ok && 'signal' in outcome && (outcome.signal as Trap).code).toBe('exit');
      expect(supervisor.actors()[0]!.state).toBe('backoff');
      clock.advance(100);
      expect(signals.at(-1)).toMatchObject({ type: 'Restarted', actor: 'transient' });
      expect(await supervisor.request('transient', { kind: 'custom', payload: [-1] })).toMatchObject({ ok: true, value: 7 });
      await supervisor.stop();
    });

    it('behavior: a permanent actor whose guest exits normally goes on serving, on a fresh instance', async () => {
      const { supervisor, types } = supervised();
      supervisor.start([exiter('permanent')]);
      const exits = exiting.stats().recycled.exit;
      expect(await supervisor.request('permanent', { kind: 'custom', payload: [0] })).toMatchObject({ ok: true });
      expect(exiting.stats().recycled.exit).toBe(exits + 1);
      expect(await supervisor.request('permanent', { kind: 'custom', payload: [-1] })).toMatchObject({ ok: true, value: 7 });
      await supervisor.settled('permanent');
      expect(supervisor.actors()[0]!.state).toBe('loaded');
      expect(types()).toEqual([]);
      await supervisor.stop();
    });

    it('behavior: a temporary actor stops after a normal exit too', async () => {
      const { supervisor, signals } = supervised();
      supervisor.start([exiter('temporary')]);
      expect(await supervisor.request('temporary', { kind: 'custom', payload: [0] })).toMatchObject({ ok: true });
      expect(supervisor.actors()[0]!.state).toBe('stopped');
      expect(signals.at(-1)).toMatchObject({ type: 'Stopped', reason: 'normal' });
      await supervisor.stop();
    });
  });

  it('behavior: the breaker survives a supervisor restart through its store', async () => {
    const store = new MemoryBreakerStore();
    const first = supervised({ breakerStore: store });
    first.supervisor.start([divider('calc', { intensity: 0 })]);
    await first.supervisor.request('calc', { kind: 'custom', payload: [1, 0] });
    await first.supervisor.stop();
    const second = supervised({ breakerStore: store });
    second.supervisor.start([divider('calc', { intensity: 0, breaker: { cooldownMs: 500 } })]);
    expect(second.supervisor.actors()[0]).toMatchObject({ state: 'quarantined', breaker: 'open' });
    second.clock.advance(29_999); // the stored cooldown (the default 30 s), not this spec's 500 ms
    expect(second.supervisor.actors()[0]!.state).toBe('quarantined');
    second.clock.advance(1);
    expect(second.supervisor.actors()[0]!.state).toBe('halfOpen');
    await second.supervisor.stop();
  });

  it('behavior: a restored breaker waits only what is left of its cooldown since it opened, however often the engine restarts', async () => {
    const store = new MemoryBreakerStore();
    const spec = divider('calc', { intensity: 0, breaker: { cooldownMs: 10_000, factor: 2 } });
    const first = supervised({ breakerStore: store, clock: new ManualClock(1_000) });
    first.supervisor.start([spec]);
    await first.supervisor.request('calc', { kind: 'custom', payload: [1, 0] }); // opens at 1,000
    await first.supervisor.stop();
    // Two restarts, 4 s and 7 s after it opened: neither moves when it opened.
    for (const now of [5_000, 8_000]) {
      const again = supervised({ breakerStore: store, clock: new ManualClock(now) });
      again.supervisor.start([spec]);
      expect(again.signals.at(-1)).toMatchObject({ type: 'Quarantined', cooldownMs: 10_000, openedAt: 1_000, at: now });
      expect(again.clock.pending()).toEqual([11_000 - now]);
      expect(store.load('calc')).toEqual({ state: 'open', cooldownMs: 10_000, at: 1_000 });
      if (now === 8_000) {
        again.clock.advance(2_999);
        expect(again.supervisor.actors()[0]!.state).toBe('quarantined');
        again.clock.advance(1);
        expect(again.supervisor.actors()[0]!.state).toBe('halfOpen');
      }
      await again.supervisor.stop();
    }
    // Restarted half-open, long after: the next event is a probe, and its failure doubles the full cooldown.
    const last = supervised({ breakerStore: store, clock: new ManualClock(100_000) });
    last.supervisor.start([spec]);
    last.clock.advance(0);
    expect(last.supervisor.actors()[0]!.state).toBe('halfOpen');
    await last.supervisor.request('calc', { kind: 'custom', payload: [1, 0] });
    expect(last.signals.at(-1)).toMatchObject({ type: 'Quarantined', cooldownMs: 20_000, openedAt: 100_000, reason: 'probe-failed' });
    await last.supervisor.stop();
  });

  it('behavior: a breaker restored on a clock that went back waits no longer than its cooldown', async () => {
    const store = new MemoryBreakerStore();
    store.save('calc', { state: 'open', cooldownMs: 10_000, at: 50_000 });
    const { supervisor, clock } = supervised({ breakerStore: store, clock: new ManualClock(1_000) });
    supervisor.start([divider('calc', { intensity: 0 })]);
    expect(clock.pending()).toEqual([10_000]);
    await supervisor.stop();
  });

  it('behavior: rest-for-one restarts the failed member and those declared after it, not those before', async () => {
    const other = await runtime.load(fixture('compute'), { name: 'other' });
    const third = await runtime.load(fixture('compute'), { name: 'third' });
    const { supervisor, signals } = supervised();
    supervisor.start(
      [divider('a'), { ...divider('b'), component: other }, { ...divider('c'), component: third }],
      [{ strategy: 'rest-for-one', members: ['a', 'b', 'c'] }],
    );
    const generations = () => [other.stats().generation, third.stats().generation];
    const before = generations();
    await supervisor.request('b', { kind: 'custom', payload: [1, 0] });
    expect(generations()).toEqual([before[0]! + 1, before[1]! + 1]); // b itself, and c after it
    expect(signals.find((s) => s.type === 'Restarted' && s.actor === 'c')).toMatchObject({ cause: 'b' });
    expect(signals.some((s) => s.type === 'Restarted' && s.actor === 'a')).toBe(false);
    await supervisor.stop();
  });

  it('behavior: one-for-all restarts every other member of the group', async () => {
    const left = await runtime.load(fixture('compute'), { name: 'left' });
    const right = await runtime.load(fixture('compute'), { name: 'right' });
    const { supervisor, signals } = supervised();
    supervisor.start([{ ...divider('l'), component: left }, { ...divider('r'), component: right }], [{ strategy: 'one-for-all', members: ['l', 'r'] }]);
    const before = left.stats().generation;
    await supervisor.request('r', { kind: 'custom', payload: [1, 0] });
    expect(left.stats().generation).toBe(before + 1);
    expect(signals.find((s) => s.type === 'Restarted' && s.actor === 'l')).toMatchObject({ cause: 'r', attempt: 0 });
    expect(supervisor.actors().find((a) => a.name === 'l')!.restarts).toBe(1);
    await supervisor.stop();
  });
});

describe('hooks', () => {
  it.each([
    ['OutOfFuel', 'work', 50_000_000, OutOfFuel],
    ['MemoryLimitExceeded', 'grow', 1_000, MemoryLimitExceeded],
    ['Trap', 'trap', 0, Trap],
  ] as const)('filter: returns its input unchanged on %s', async (_name, exportName, input, SignalClass) => {
    const { supervisor, signals } = supervised();
    supervisor.start([{ name: 'f', component: compute, handler: { export: exportName } }]);
    expect(await supervisor.filter('f', input)).toBe(input);
    expect(signals[0]!.type === _name && 'signal' in signals[0]! && signals[0].signal).toBeInstanceOf(SignalClass);
    expect(supervisor.actors()[0]!.failures).toEqual({ [_name]: 1 });
    await supervisor.stop();
  });

  it('filter: returns its input unchanged on ExecutionTimeout, and the output on success', async () => {
    const spinner = await runtime.load(fixture('compute'), { name: 'spinner', limits: { timeoutMs: 20, fuel: Number.MAX_SAFE_INTEGER } });
    const { supervisor, clock, signals } = supervised();
    supervisor.start([{ name: 'f', component: spinner, handler: { export: 'spin', args: () => [] } }, { name: 'g', component: compute, handler: { export: 'work' } }]);
    expect(await supervisor.filter('f', 'untouched')).toBe('untouched');
    expect(signals[0]!.type).toBe('ExecutionTimeout');
    expect('signal' in signals[0]! && signals[0].signal).toBeInstanceOf(ExecutionTimeout);
    clock.advance(1_000);
    // On success the guest's output, not the input: work(3) is not 3.
    const expected = (await compute.call('work', [3])).value;
    expect(expected).not.toBe(3);
    expect(await supervisor.filter('g', 3)).toBe(expected);
    await supervisor.stop();
  });

  it('action: reports success when the guest fails, logs the failure, and counts it', async () => {
    const { supervisor, logs, types } = supervised();
    supervisor.start([divider('act', { handler: { export: 'divide', args: () => [1, 0] } })]);
    expect(await supervisor.action('act', 'input')).toEqual({ ok: true });
    expect(logs.find((l) => l.hook === 'action')).toMatchObject({ actor: 'act', signal: 'Trap', code: 'integer-divide-by-zero' });
    expect(types()).toContain('BackingOff');
    expect(supervisor.actors()[0]!.failures).toEqual({ Trap: 1 });
    await supervisor.stop();
  });
});

describe('mailbox and concurrency', () => {
  it('behavior: 10 actors × 1,000 events: each sees its events in order, never two at once; actors run in parallel', async () => {
    const seen = new Map<string, number[]>();
    const inFlight = new Map<string, number>();
    let concurrent = 0;
    let maxConcurrent = 0;
    let overlaps = 0;
    const caller = await runtime.load(fixture('host-caller'), {
      imports: hostCallerImports({
        slow: async (id: number) => {
          const actor = `a${id >> 16}`;
          const seq = id & 0xffff;
          if ((inFlight.get(actor) ?? 0) > 0) overlaps++;
          inFlight.set(actor, (inFlight.get(actor) ?? 0) + 1);
          maxConcurrent = Math.max(maxConcurrent, ++concurrent);
          await new Promise((r) => setImmediate(r));
          concurrent--;
          inFlight.set(actor, inFlight.get(actor)! - 1);
          (seen.get(actor) ?? seen.set(actor, []).get(actor)!).push(seq);
          return id;
        },
      }),
      limits: { timeoutMs: 10_000 },
    });
    const { supervisor } = supervised();
    const names = Array.from({ length: 10 }, (_, i) => `a${i}`);
    supervisor.start(names.map((name) => ({ name, component: caller, handler: { export: 'call-slow' }, mailboxCapacity: 64 })));
    const outcomes: Promise<unknown>[] = [];
    await Promise.all(
      names.map(async (name, i) => {
        for (let seq = 0; seq < 1_000; seq++) outcomes.push(supervisor.request(name, { kind: 'log', payload: (i << 16) | seq }));
      }),
    );
    await Promise.all(outcomes);
    for (const name of names) expect(seen.get(name)).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    expect(overlaps).toBe(0);
    expect(maxConcurrent).toBeGreaterThanOrEqual(2);
    await supervisor.stop();
  });

  it('behavior: a failing actor does not hold up the others (they finish while its call still runs)', async () => {
    const gate = deferred<number>();
    const stuck = await runtime.load(fixture('host-caller'), { name: 'stuck', imports: hostCallerImports({ slow: () => gate.promise }), limits: { timeoutMs: 30_000 } });
    const { supervisor } = supervised();
    supervisor.start([{ name: 'stuck', component: stuck, handler: { export: 'call-slow' } }, divider('busy')]);
    const blocked = supervisor.request('stuck', { kind: 'custom', payload: 1 });
    let settled = false;
    void blocked.then(() => (settled = true));
    for (let i = 1; i <= 100; i++) expect(await supervisor.request('busy', { kind: 'custom', payload: [i * 2, 2] })).toMatchObject({ ok: true, value: i });
    expect(settled).toBe(false); // bound: all 100 done while the stuck actor's single call is still running
    gate.resolve(7);
    expect(await blocked).toMatchObject({ ok: true, value: 7 });
    await supervisor.stop();
  });

  it('behavior: a full mailbox coalesces the kinds its spec says (blocks) to the newest and makes other producers wait', async () => {
    const gate = deferred<number>();
    const caller = await runtime.load(fixture('host-caller'), {
      name: 'gated',
      imports: hostCallerImports({ slow: async (n: number) => (n === 0 ? gate.promise : n) }),
      limits: { timeoutMs: 30_000 },
    });
    const { supervisor } = supervised();
    supervisor.start([{ name: 'm', component: caller, handler: { export: 'call-slow' }, mailboxCapacity: 2, overflow: { block: 'coalesce' } }]);
    const first = supervisor.request('m', { kind: 'block', payload: 0 }); // runs, held by the gate
    await new Promise((r) => setImmediate(r));
    const blocks = [1, 2, 3].map((n) => supervisor.request('m', { kind: 'block', payload: n }));
    expect(supervisor.actors()[0]).toMatchObject({ mailboxDepth: 2, coalesced: 1 });
    // Logs are never dropped: with the mailbox full the producer waits.
    let admitted = false;
    const log = supervisor.send('m', { kind: 'log', payload: 4 }).then(() => (admitted = true));
    await new Promise((r) => setImmediate(r));
    expect(admitted).toBe(false);
    expect(supervisor.actors()[0]!.blockedProducers).toBe(1);
    gate.resolve(0);
    await first;
    await log;
    expect(admitted).toBe(true);
    expect(await blocks[0]).toEqual({ ok: false, refused: 'coalesced' }); // block 1 gave way to block 3
    expect(await blocks[1]).toMatchObject({ ok: true, value: 2 });
    expect(await blocks[2]).toMatchObject({ ok: true, value: 3 });
    await supervisor.stop();
  });

  it('stop: drains queued work within the shutdown timeout, else brutal-kills what remains', async () => {
    const gate = deferred<number>();
    const inHost = deferred();
    const caller = await runtime.load(fixture('host-caller'), {
      name: 'slowpoke',
      imports: hostCallerImports({
        slow: () => {
          inHost.resolve();
          return gate.promise;
        },
      }),
      limits: { timeoutMs: 30_000 },
    });
    const { supervisor, clock, signals } = supervised({ shutdownTimeoutMs: 1_000 });
    supervisor.start([divider('quick'), { name: 'slow', component: caller, handler: { export: 'call-slow' } }]);
    const quick = supervisor.request('quick', { kind: 'custom', payload: [8, 2] });
    const held = supervisor.request('slow', { kind: 'custom', payload: 1 });
    const waiting = supervisor.request('slow', { kind: 'custom', payload: 2 });
    await inHost.promise;
    const stopping = supervisor.stop();
    await new Promise((r) => setImmediate(r));
    clock.advance(1_000); // `slow` (stopped first: reverse order) does not drain in time
    await new Promise((r) => setImmediate(r));
    expect(await waiting).toEqual({ ok: false, refused: 'stopped' });
    expect(signals.find((s) => s.type === 'Stopped' && s.actor === 'slow')).toMatchObject({ reason: 'brutal-kill' });
    const killed = await held; // its worker was terminated: the gate never opened
    expect(!killed.ok && 'signal' in killed && killed.signal).toBeInstanceOf(Trap);
    await stopping;
    gate.resolve(1);
    expect(await quick).toMatchObject({ ok: true, value: 4 });
    expect(signals.find((s) => s.type === 'Stopped' && s.actor === 'quick')).toMatchObject({ reason: 'shutdown' });
    expect(signals.filter((s) => s.type === 'Stopped').map((s) => s.actor)).toEqual(['slow', 'quick']);
  });
});
