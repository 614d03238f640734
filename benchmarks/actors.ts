/**
 * The actor layer's figures: its overhead over a bare runtime call, fan-out to many actors, and the
 * cost of a restart. Uses the real clock (backoff 0 ms for the restart measure).
 */
import { pino } from 'pino';
import { type Component, type Runtime } from '../src/index.ts';
import { Supervisor } from '../src/supervisor/Supervisor.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

/** `runtimeCallsPerSecond`: the bare runtime's throughput measured earlier in the same run, for the ratio. */
export async function benchActors(runtime: Runtime, computePath: string, row: Row, runtimeCallsPerSecond?: number): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  const logger = pino({ level: 'silent' });
  const compute = await runtime.load(computePath, { name: 'actors-compute' });

  // 1. One actor: event → mailbox → machine → guest → done, beside the bare call, interleaved.
  results.actorEvent = await benchActorLayer(compute, row, 'idle');

  // 2. Fan-out: each event goes to 100 actors with a trivial handler.
  {
    const supervisor = new Supervisor({ logger });
    const names = Array.from({ length: 100 }, (_, i) => `fan${i}`);
    supervisor.start(names.map((name) => ({ name, component: compute, handler: { export: 'add', args: () => [1, 2] } })));
    const fanOut = () => Promise.all(names.map((name) => supervisor.request(name, { kind: 'block', payload: null })));
    for (let i = 0; i < 20; i++) await fanOut();
    const times: number[] = [];
    const events = 300;
    const t0 = performance.now();
    for (let i = 0; i < events; i++) {
      const t = performance.now();
      await fanOut();
      times.push(performance.now() - t);
    }
    const perSecond = (events * names.length) / ((performance.now() - t0) / 1000);
    const s = summarize(times);
    row('fan-out: one event to 100 actors, completion p50 / p99', `${s.p50.toFixed(2)} / ${s.p99.toFixed(2)} ms`);
    const ratio = runtimeCallsPerSecond ? ` (${((perSecond / runtimeCallsPerSecond) * 100).toFixed(0)} % of the bare runtime's ${Math.round(runtimeCallsPerSecond)}/s in this run)` : '';
    row('  handler invocations/s', `${Math.round(perSecond)}${ratio}`, '≥ 20,000/s', perSecond >= 20_000);
    results.fanOut = { completionMs: s, invocationsPerSecond: perSecond };
    await supervisor.stop();
  }

  // 3. Restart cost: from the trap to the actor serving again (backoff set to 0).
  {
    const supervisor = new Supervisor({ logger });
    supervisor.start([
      {
        name: 'phoenix',
        component: compute,
        handler: { export: 'divide', args: (e) => e.payload as unknown[] },
        intensity: 1_000_000,
        backoff: { initialMs: 0, maxMs: 0, jitter: 0 },
      },
    ]);
    const samples: number[] = [];
    for (let i = 0; i < 520; i++) {
      const t = performance.now();
      await supervisor.request('phoenix', { kind: 'custom', payload: [1, 0] });
      const outcome = await supervisor.request('phoenix', { kind: 'custom', payload: [4, 2] });
      if (!outcome.ok) throw new Error('actor did not serve after its restart');
      if (i >= 20) samples.push(performance.now() - t);
    }
    const s = summarize(samples);
    row('restart: trap → serving again (fresh instance), p50 / p99', `${us(s.p50)} / ${us(s.p99)}`);
    results.restartMs = s;
    await supervisor.stop();
  }
  return results;
}

/**
 * The actor layer's overhead: one actor's event → mailbox → machine → guest → done, beside the bare
 * call of the same export, interleaved (`condition` names the row: "idle", "under load").
 */
export async function benchActorLayer(compute: Component, row: Row, condition: string, pairs = 20_000): Promise<Record<string, unknown>> {
  const logger = pino({ level: 'silent' });
  const supervisor = new Supervisor({ logger });
  supervisor.start([{ name: 'adder', component: compute, handler: { export: 'add', args: () => [1, 2] } }]);
  const bare: number[] = [];
  const actor: number[] = [];
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const timeBare = async () => {
    const t = performance.now();
    await compute.call('add', [1, 2]);
    return performance.now() - t;
  };
  const timeActor = async () => {
    const t = performance.now();
    await supervisor.request('adder', { kind: 'custom', payload: null });
    const elapsed = performance.now() - t;
    // The machine steps back to `loaded` after the outcome is delivered; let that happen untimed.
    await supervisor.settled('adder');
    return elapsed;
  };
  for (let i = 0; i < pairs + 2_000; i++) {
    // Both start after one idle event-loop turn, and they take turns going first: a worker that
    // just finished a task answers faster than one that went back to waiting.
    await turn();
    const first = i % 2 === 0 ? await timeBare() : await timeActor();
    await turn();
    const second = i % 2 === 0 ? await timeActor() : await timeBare();
    if (i >= 2_000) {
      bare.push(i % 2 === 0 ? first : second);
      actor.push(i % 2 === 0 ? second : first);
    }
  }
  const b = summarize(bare);
  const a = summarize(actor);
  const added = a.p50 - b.p50;
  row(`event → actor → guest → done (${condition}), p50 / p99`, `${us(a.p50)} / ${us(a.p99)} (bare call ${us(b.p50)} / ${us(b.p99)})`);
  row(`  actor layer adds (${condition}), p50`, us(added), '≤ 10 µs', added <= 0.01);
  await supervisor.stop();
  return { actorMs: a, bareMs: b, addedMs: added };
}
