/**
 * Messages between modules (issue 25): how long after the sender's step committed the receiver's
 * handler starts (one message at a time, so no queue stands in front of it), and messages per second
 * between ten sender/receiver pairs at once (the receivers' steps: one invocation and one commit each).
 * The sender's commit is taken as the moment its step's outcome came back (the commit is durable
 * then), so the latency slightly undercounts; the handler's start is its invocation's `startedAt`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type InvocationRecord, type Runtime } from '../src/index.ts';
import type { ModuleManifest } from '../src/config/ModuleManifestSchema.ts';
import { Engine } from '../src/engine/Engine.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;

const probe = (fixture: (name: string) => string, name: string, to: string[], from: string[]): ModuleManifest => ({
  name,
  component: fixture('msg-probe'),
  grants: { store: true, messages: to },
  triggers: from.length > 0 ? [{ kind: 'messages', from }] : [],
  limits: { fuel: 1e10, timeoutMs: 10_000 },
  caps: { messagesSent: 1_000, storeOps: 10_000 },
});

async function start(runtime: Runtime, modules: ModuleManifest[]): Promise<Engine> {
  return Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-messages-')), logger: pino({ level: 'silent' }), modules });
}

let seq = 0;
const send = (engine: Engine, from: string, to: string, payloads: string[]) => engine.deliver(from, { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify({ op: 'send', to, payloads }) } }, { seq: ++seq });

/** Sender commit → receiver handler start, `n` messages one after another. */
async function latency(runtime: Runtime, fixture: (name: string) => string, n: number) {
  const engine = await start(runtime, [probe(fixture, 'a', ['b'], []), probe(fixture, 'b', [], ['a'])]);
  try {
    let waiting: ((at: number) => void) | undefined;
    const sub = engine.invocations$.subscribe((record: InvocationRecord) => {
      if (record.module === 'b' && record.startedAt !== undefined) waiting?.(record.startedAt);
    });
    const samples: number[] = [];
    for (let i = 0; i < n + 20; i++) {
      const started = new Promise<number>((resolve) => (waiting = resolve));
      await send(engine, 'a', 'b', [`m${i}`]);
      const committed = performance.timeOrigin + performance.now();
      const at = await started;
      if (i >= 20) samples.push(at - committed); // the first ones warm the instances up
    }
    sub.unsubscribe();
    return summarize(samples);
  } finally {
    await engine.stop();
  }
}

/** Messages per second between `pairs` sender/receiver pairs, each sender sending `steps` steps of `batch`. */
async function throughput(runtime: Runtime, fixture: (name: string) => string, pairs: number, steps: number, batch: number) {
  const modules = Array.from({ length: pairs }, (_, i) => [probe(fixture, `s${i}`, [`r${i}`], []), probe(fixture, `r${i}`, [], [`s${i}`])]).flat();
  const engine = await start(runtime, modules);
  try {
    const total = pairs * steps * batch;
    let handled = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const sub = engine.invocations$.subscribe((record: InvocationRecord) => {
      if (record.module.startsWith('r') && ++handled === total) done();
    });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: pairs }, async (_, i) => {
      for (let step = 0; step < steps; step++) await send(engine, `s${i}`, `r${i}`, Array.from({ length: batch }, (_, k) => `p${step}-${k}`));
    }));
    await all;
    const seconds = (performance.now() - t0) / 1000;
    sub.unsubscribe();
    return { total, seconds, perSecond: total / seconds };
  } finally {
    await engine.stop();
  }
}

export async function benchMessages(runtime: Runtime, fixture: (name: string) => string, row: Row) {
  const lat = await latency(runtime, fixture, 200);
  row('message: sender commit → receiver handler start', `p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms (n=${lat.n})`);
  const rate = await throughput(runtime, fixture, 10, 10, 50);
  row('messages/s between 10 module pairs', `${Math.round(rate.perSecond).toLocaleString('en')}/s (${rate.total} messages in ${rate.seconds.toFixed(2)} s)`);
  return { latencyMs: lat, throughput: rate };
}
