/**
 * Timer accuracy: how late a `timer(tag)` handler starts after its due time, on the real clock, with
 * and without load (ten other modules handling a stream of custom events meanwhile). One module holds
 * the timers, so its timer invocations come in due order and pair with the due times one to one.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Engine, type InvocationRecord, type Runtime } from '../src/index.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const TIMERS = 200;

async function lateness(runtime: Runtime, fixture: (name: string) => string, load: boolean): Promise<ReturnType<typeof summarize>> {
  const others = load ? Array.from({ length: 10 }, (_, i) => ({ name: `busy${i}`, component: fixture('counter'), grants: { store: true, logging: true }, topics: ['work'] })) : [];
  const engine = await Engine.start({
    runtime,
    stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-timers-')),
    logger: pino({ level: 'silent' }),
    modules: [{ name: 't', component: fixture('timer-probe'), grants: { store: true, timers: true }, topics: ['cmd'] }, ...others],
  });
  try {
    const base = Date.now() + 1_500;
    const due = Array.from({ length: TIMERS }, (_, i) => base + i * 10); // one every 10 ms for 2 s
    let seq = 0;
    for (const [i, at] of due.entries()) await engine.deliver('t', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify({ op: 'at', at, tag: `t${i}` }) } }, { seq: ++seq });
    const started: number[] = [];
    const done = new Promise<void>((resolve) => {
      engine.invocations$.subscribe((record: InvocationRecord) => {
        if (record.module !== 't' || record.startedAt === undefined) return;
        started.push(record.startedAt);
        if (started.length === TIMERS) resolve();
      });
    });
    let stop = false;
    const busy = load
      ? (async () => {
          while (!stop) await engine.publish('work', JSON.stringify({ op: 'incr' }));
        })()
      : Promise.resolve();
    await done;
    stop = true;
    await busy;
    return summarize(started.map((at, i) => at - due[i]!));
  } finally {
    await engine.stop();
  }
}

export async function benchTimers(runtime: Runtime, fixture: (name: string) => string, row: Row): Promise<Record<string, unknown>> {
  const idle = await lateness(runtime, fixture, false);
  const loaded = await lateness(runtime, fixture, true);
  row('timer lateness (handler start − due), idle, p50 / p99', `${idle.p50.toFixed(2)} ms / ${idle.p99.toFixed(2)} ms`);
  row('  with 10 other modules busy, p50 / p99', `${loaded.p50.toFixed(2)} ms / ${loaded.p99.toFixed(2)} ms`);
  return { timers: TIMERS, idleMs: idle, loadedMs: loaded };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { newRuntime, fixture } = await import('../test/helpers.ts');
  const runtime = newRuntime();
  console.log(JSON.stringify(await benchTimers(runtime, fixture as (name: string) => string, (name, value) => console.log(`  ${name}: ${value}`))));
  await runtime.close();
}
