/**
 * One engine replica on PostgreSQL in a process of its own, so a test can SIGKILL, SIGSTOP and SIGCONT
 * it like a machine that dies or freezes. Run as `node --import tsx replicaProcess.ts '<ReplicaSpec json>'`.
 *
 * The parent sees the replica only through stdout, one JSON line each (see `ReplicaLine`): `ready`
 * once started, every ownership event (acquired, released, lost, with its epoch), every committed
 * chain step, every job run, and the answers to commands. Each line carries `at`, epoch milliseconds
 * with sub-millisecond precision from this machine's clock, so lines of different replicas can be
 * ordered by when they happened rather than when the parent read them.
 *
 * Commands arrive on stdin, one JSON line each (see `ReplicaCommand`). SIGTERM stops the engine
 * gracefully (its modules handed over) and exits 0 after printing `stopped`.
 */
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { Runtime, type ModuleManifest } from '../../src/index.ts';
import { Engine } from '../../src/engine/Engine.ts';

export interface ReplicaSpec {
  /** Its name in the `replicas` table (and in every line it prints). */
  replica: string;
  url: string;
  rpcUrl?: string;
  leaseMs: number;
  placement: { joinDelayMs: number; minHoldMs: number; reconcileMs?: number };
  modules: ModuleManifest[];
}

/** What a replica prints, less the time stamp every line gets. */
export type ReplicaEvent =
  | { t: 'ready'; pid: number }
  | { t: 'own'; kind: 'acquired' | 'released' | 'lost'; module: string; epoch: string; reason?: string }
  | { t: 'step'; module: string; number: string; events: number }
  | { t: 'job'; module: string; type: string; outcome: string }
  /** A runtime signal that ended one of a module's invocations (an event or step it did not handle). */
  | { t: 'signal'; module: string; type: string; message: string }
  | { t: 'reply'; id: number; ok: true; value?: unknown }
  | { t: 'reply'; id: number; ok: false; error: string }
  | { t: 'stopped' }
  | { t: 'fatal'; error: string };
export type ReplicaLine = ReplicaEvent & { at: number };

/** What a replica can be asked, less the id its answer carries. */
export type ReplicaRequest =
  | { cmd: 'publish'; topic: string; payload: string }
  /** Waits until `module` (owned here) has no job running or due; answers with its pending tasks. */
  | { cmd: 'jobsSettled'; module: string }
  | { cmd: 'owned' };
export type ReplicaCommand = ReplicaRequest & { id: number };

const now = () => performance.timeOrigin + performance.now();
const print = (line: ReplicaEvent) => process.stdout.write(`${JSON.stringify({ ...line, at: now() })}\n`);

const spec = JSON.parse(process.argv[2]!) as ReplicaSpec;
const logger = pino({ level: process.env.CORRAL_REPLICA_LOG ?? 'warn', base: { replica: spec.replica } }, pino.destination(2));
const runtime = new Runtime({ threads: 2, ...(process.env.CORRAL_TEST_CACHE_DIR ? { cacheDir: process.env.CORRAL_TEST_CACHE_DIR } : {}) });

let engine: Engine;
try {
  engine = await Engine.start({
    runtime,
    store: { backend: 'postgres', url: spec.url, replica: spec.replica, leaseMs: spec.leaseMs, placement: spec.placement },
    logger,
    ...(spec.rpcUrl ? { chains: { 31337: { rpcUrl: spec.rpcUrl, pollIntervalMs: 20 } } } : {}),
    modules: spec.modules,
  });
} catch (error) {
  print({ t: 'fatal', error: String((error as Error).stack ?? error) });
  process.exit(3);
}

// Subscribed right after start: Placement acquires asynchronously, and the engine's subject replays
// nothing, so an `acquired` emitted before this line would be missed only if start awaited an acquire.
engine.ownership$.subscribe((e) => print({ t: 'own', kind: e.kind, module: e.module, epoch: String(e.epoch), ...(e.reason ? { reason: e.reason } : {}) }));
engine.steps$.subscribe((s) => print({ t: 'step', module: s.module, number: String(s.number), events: s.events }));
engine.jobs$.subscribe((r) => print({ t: 'job', module: r.module, type: r.type, outcome: r.outcome }));
// Only what ended an invocation (a custom event ended by a signal is not delivered again), not the lifecycle that follows.
engine.signals$.subscribe((s) => {
  if ('signal' in s && s.signal instanceof Error) print({ t: 'signal', module: s.actor, type: s.type, message: s.signal.message });
});
// What it already owned when the subscriptions were made (a start may acquire before returning).
for (const [module, epoch] of engine.owned()) print({ t: 'own', kind: 'acquired', module, epoch: String(epoch), reason: 'at-start' });
print({ t: 'ready', pid: process.pid });

async function answer(command: ReplicaCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'publish':
      return void (await engine.publish(command.topic, command.payload));
    case 'jobsSettled':
      await engine.jobsSettled(command.module);
      return (await engine.pendingJobs(command.module)).length;
    case 'owned':
      return Object.fromEntries([...engine.owned()].map(([m, e]) => [m, String(e)]));
  }
}

createInterface({ input: process.stdin }).on('line', (text) => {
  const command = JSON.parse(text) as ReplicaCommand;
  answer(command).then(
    (value) => print({ t: 'reply', id: command.id, ok: true, ...(value === undefined ? {} : { value }) }),
    (error: unknown) => print({ t: 'reply', id: command.id, ok: false, error: String((error as Error).message ?? error) }),
  );
});

process.once('SIGTERM', () => {
  void (async () => {
    await engine.stop();
    await runtime.close();
    print({ t: 'stopped' });
    process.exit(0);
  })();
});
