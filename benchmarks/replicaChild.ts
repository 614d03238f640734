/**
 * One engine replica on PostgreSQL in a process of its own, for benchmarks/postgres.ts (a SIGKILL must
 * kill a whole replica, and replicas must not share an event loop when their throughput is measured).
 * Run as `node --import tsx replicaChild.ts '<json>'` with ReplicaChildOptions.
 *
 * stdout, one JSON line each: `ready`; `acquired`/`released`/`lost` with module, epoch and the wall
 * clock (`at`, Date.now(): the parent compares it with its own kill time on the same machine); with
 * `reportCommits`, `committed` for every chain step a module commits; `drove`
 * after a `drive` command.
 * stdin, one JSON line each: `{ "drive": ms }` delivers custom events to every module this replica owns
 * (one in flight per module, as its actor runs them) for that long and reports how many committed.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Runtime, type ModuleManifest } from '../src/index.ts';
import { Engine } from '../src/engine/Engine.ts';

export interface ReplicaChildOptions {
  url: string;
  replica: string;
  modules: ModuleManifest[];
  leaseMs: number;
  joinDelayMs: number;
  minHoldMs: number;
  rpcUrl?: string;
  reportCommits?: boolean;
}

const options = JSON.parse(process.argv[2]!) as ReplicaChildOptions;
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...line, at: Date.now() })}\n`);

// Every chain step committed, read off the engine's own debug line.
const commits = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const text of chunk.toString().split('\n')) {
      if (!text.includes('chain step committed')) continue;
      const record = JSON.parse(text) as { module?: string; block?: string };
      say({ kind: 'committed', module: record.module, block: record.block });
    }
    done();
  },
});
const logger = options.reportCommits ? pino({ level: 'debug' }, commits) : pino({ level: 'warn' }, pino.destination(2));

const runtime = new Runtime({ threads: 1, ...(process.env.CORRAL_BENCH_CACHE_DIR ? { cacheDir: process.env.CORRAL_BENCH_CACHE_DIR } : {}) });
const engine = await Engine.start({
  runtime,
  stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-replica-')),
  logger,
  store: { backend: 'postgres', url: options.url, replica: options.replica, leaseMs: options.leaseMs, placement: { joinDelayMs: options.joinDelayMs, minHoldMs: options.minHoldMs } },
  ...(options.rpcUrl ? { chains: { 31337: { rpcUrl: options.rpcUrl, pollIntervalMs: 100 } } } : {}),
  modules: options.modules,
});
const announced = new Set<string>();
const acquired = (module: string, epoch: bigint) => {
  if (announced.has(`${module}/${epoch}`)) return;
  announced.add(`${module}/${epoch}`);
  say({ kind: 'acquired', module, epoch: String(epoch) });
};
engine.ownership$.subscribe((event) => {
  if (event.kind === 'acquired') acquired(event.module, event.epoch);
  else say({ kind: event.kind, module: event.module, epoch: String(event.epoch) });
});
// What placement acquired while the engine started, before anyone could subscribe.
for (const [module, epoch] of engine.owned()) acquired(module, epoch);
say({ kind: 'ready' });

let seq = 0;
async function drive(ms: number): Promise<void> {
  const end = performance.now() + ms;
  let events = 0;
  const t0 = performance.now();
  await Promise.all(
    [...engine.owned().keys()].map(async (module) => {
      while (performance.now() < end) {
        const outcome = await engine.deliver(module, { tag: 'custom', val: { topic: 'set', payload: 'x' } }, { seq: ++seq });
        if (outcome.ok) events++;
      }
    }),
  );
  say({ kind: 'drove', events, ms: performance.now() - t0, modules: engine.owned().size });
}

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as { drive?: number; stop?: true };
  if (command.drive !== undefined) await drive(command.drive);
  if (command.stop) break;
}
await engine.stop();
await runtime.close();
say({ kind: 'stopped' });
