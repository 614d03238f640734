/**
 * The PostgreSQL store (issue 22), side by side with LevelDB in one run, on an embedded PostgreSQL this
 * file starts and stops (synchronous_commit on, the server default):
 * - a step's commit through the engine: one event writing one key, its cursor, committed, one at a time;
 * - trivial jobs per second across ten modules;
 * - 30 modules driven as fast as they go on 1, 2 and 3 replicas (processes of their own, one PostgreSQL);
 * - failover: SIGKILL the replica owning the most modules, then time until each of its modules commits
 *   its first block on another replica, over 20 kills.
 * Replicas are benchmarks/replicaChild.ts. On this 2-core machine the replicas, PostgreSQL and anvil
 * share the cores: the replica figures show contention, not what separate machines would give.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { type ModuleManifest, type Runtime } from '../src/index.ts';
import { Engine } from '../src/engine/Engine.ts';
import type { StoreOptions } from '../src/store/openStore.ts';
import { DEFAULT_POSTGRES } from '../src/limits/defaults.ts';
import { startAnvil } from '../test/anvil.ts';
import { freshDatabase, startPostgres } from '../test/postgres.ts';
import type { ReplicaChildOptions } from './replicaChild.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
type Fixture = (name: string) => string;
const ms2 = (ms: number) => `${ms.toFixed(2)} ms`;
const perSecond = (n: number) => `${Math.round(n).toLocaleString('en')}/s`;

const COMMIT_ROUNDS = 5;
const COMMITS_PER_ROUND = 300;
const JOB_MODULES = 10;
const JOBS_PER_MODULE = 300;
const MODULES = 30;
const DRIVE_MS = 5_000;
const KILLS = 20;
/** A failover round that takes this long has failed (the target is the lease period + 1 s). */
const STUCK_MS = 60_000;
/**
 * Blocks are mined this often in the failover runs: 30 modules commit each block, which a loaded 2-core
 * machine keeps up with; a lost module's first commit elsewhere waits for the next block at most this long.
 */
const BLOCK_MS = 500;
/** Placement for the replica runs: short, so a run converges in seconds (defaults: src/limits/defaults.ts). */
const PLACEMENT = { joinDelayMs: 1_000, minHoldMs: 2_000 };

/** Engine.start on either store, its modules owned (on PostgreSQL placement acquires them after start). */
async function startEngine(runtime: Runtime, store: StoreOptions, modules: ModuleManifest[]): Promise<Engine> {
  const engine = await Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-pg-')), store, logger: pino({ level: 'silent' }), modules });
  if (store.backend === 'postgres') {
    while (engine.owned().size < modules.length) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return engine;
}

/**
 * One event at a time into a store-probe module (one `store.set`): the whole delivery, and the delivery
 * minus the guest's own time (what the commit and the engine around it add), in rounds alternating
 * between the stores so both see the same machine load.
 */
async function commitLatency(runtime: Runtime, fixture: Fixture, url: string) {
  const modules = [{ name: 'probe', component: fixture('store-probe'), grants: { store: true } }];
  const engines = {
    level: await startEngine(runtime, { backend: 'level', stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-pg-level-')) }, modules),
    postgres: await startEngine(runtime, { backend: 'postgres', url }, modules),
  };
  const samples = { level: { total: [] as number[], commit: [] as number[], ms: 0 }, postgres: { total: [] as number[], commit: [] as number[], ms: 0 } };
  let seq = 0;
  try {
    for (let round = 0; round <= COMMIT_ROUNDS; round++) {
      for (const backend of ['level', 'postgres'] as const) {
        const t0 = performance.now();
        for (let i = 0; i < COMMITS_PER_ROUND; i++) {
          const start = performance.now();
          const outcome = await engines[backend].deliver('probe', { tag: 'custom', val: { topic: 'set', payload: 'x' } }, { seq: ++seq });
          const total = performance.now() - start;
          if (!outcome.ok || !('durationMs' in outcome)) throw new Error(`benchmark event failed: ${JSON.stringify(outcome)}`);
          if (round === 0) continue; // warm-up
          samples[backend].total.push(total);
          samples[backend].commit.push(total - outcome.durationMs);
        }
        if (round > 0) samples[backend].ms += performance.now() - t0;
      }
    }
  } finally {
    await Promise.all([engines.level.stop(), engines.postgres.stop()]);
  }
  const summary = (s: typeof samples.level) => ({ total: summarize(s.total), commit: summarize(s.commit), eventsPerSecond: (s.total.length / s.ms) * 1000 });
  return { level: summary(samples.level), postgres: summary(samples.postgres) };
}

/** Trivial jobs (one `store.set` each) completed per second across ten modules, enqueueing included. */
async function jobsPerSecond(runtime: Runtime, fixture: Fixture, store: StoreOptions): Promise<number> {
  const modules = Array.from({ length: JOB_MODULES }, (_, i) => ({ name: `m${i}`, component: fixture('job-nop'), grants: { store: true } }));
  const engine = await startEngine(runtime, store, modules);
  try {
    await engine.jobsSettled();
    await Promise.all(modules.map((m) => engine.enqueue(m.name, 'warm', ['w0', 'w1'])));
    await engine.jobsSettled();
    const total = JOB_MODULES * JOBS_PER_MODULE;
    let done = 0;
    const finished = new Promise<void>((resolve) => {
      engine.jobs$.subscribe((r) => {
        if (r.outcome === 'done' && ++done === total) resolve();
      });
    });
    const t0 = performance.now();
    await Promise.all(modules.map((m) => engine.enqueue(m.name, 'nop', Array.from({ length: JOBS_PER_MODULE }, (_, i) => `k${i}`))));
    await finished;
    return (total / (performance.now() - t0)) * 1000;
  } finally {
    await engine.stop();
  }
}

interface ChildLine {
  kind: 'ready' | 'acquired' | 'released' | 'lost' | 'committed' | 'drove' | 'stopped';
  module?: string;
  epoch?: string;
  at: number;
  events?: number;
  ms?: number;
}

/** A replica process and what it has said. */
class Replica {
  readonly process: ChildProcess;
  readonly owned = new Set<string>();
  private readonly listeners = new Set<(line: ChildLine) => void>();
  readonly exited: Promise<void>;

  constructor(readonly name: string, options: Omit<ReplicaChildOptions, 'replica'>, onLine: (replica: Replica, line: ChildLine) => void) {
    this.process = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./replicaChild.ts', import.meta.url)), JSON.stringify({ ...options, replica: name })], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.exited = new Promise((resolve) => this.process.once('exit', () => resolve()));
    createInterface({ input: this.process.stdout! }).on('line', (text) => {
      if (!text.startsWith('{')) return;
      const line = JSON.parse(text) as ChildLine;
      if (process.env.CORRAL_BENCH_TRACE && line.kind !== 'committed') console.error(`    ${name}: ${text}`);
      if (line.kind === 'acquired') this.owned.add(line.module!);
      if (line.kind === 'released' || line.kind === 'lost') this.owned.delete(line.module!);
      onLine(this, line);
      for (const listener of this.listeners) listener(line);
    });
  }

  next(match: (line: ChildLine) => boolean): Promise<ChildLine> {
    return new Promise((resolve) => {
      const listener = (line: ChildLine) => {
        if (!match(line)) return;
        this.listeners.delete(listener);
        resolve(line);
      };
      this.listeners.add(listener);
    });
  }

  send(command: object): void {
    this.process.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.send({ stop: true });
    await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
    this.process.kill('SIGKILL');
    await this.exited;
  }
}

/** Resolves once ownership has not changed for `quietMs` and every module has an owner (polled: a benchmark, not a test). */
async function settled(replicas: () => Replica[], modules: number, lastChange: () => number, quietMs = 1_500, each = false): Promise<void> {
  for (;;) {
    const live = replicas();
    const owned = live.reduce((n, r) => n + r.owned.size, 0);
    if (owned === modules && Date.now() - lastChange() >= quietMs && (!each || live.every((r) => r.owned.size > 0))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** 30 store-probe modules on `count` replicas: events committed per second across all of them. */
async function replicaThroughput(fixture: Fixture, url: string, count: number): Promise<{ eventsPerSecond: number; perReplica: number[] }> {
  const modules = Array.from({ length: MODULES }, (_, i) => ({ name: `p${String(i).padStart(2, '0')}`, component: fixture('store-probe'), grants: { store: true } }));
  let lastChange = Date.now();
  const replicas = Array.from({ length: count }, (_, i) => new Replica(`r${i}`, { url, modules, leaseMs: DEFAULT_POSTGRES.leaseMs, ...PLACEMENT }, (_, line) => {
    if (line.kind !== 'committed') lastChange = Date.now();
  }));
  try {
    await settled(() => replicas, MODULES, () => lastChange, 2 * PLACEMENT.minHoldMs, true);
    const drove = replicas.map((r) => r.next((l) => l.kind === 'drove'));
    for (const r of replicas) r.send({ drive: DRIVE_MS });
    const lines = await Promise.all(drove);
    const perReplica = lines.map((l) => (l.events! / l.ms!) * 1000);
    return { eventsPerSecond: perReplica.reduce((a, b) => a + b, 0), perReplica };
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
  }
}

/**
 * Three replicas following blocks (mined every BLOCK_MS) with 30 watcher modules. Each round SIGKILLs the
 * replica owning the most modules and measures, per module it owned, the time from the kill to the
 * module's first committed block on another replica; a new replica replaces the dead one and the round
 * waits for placement to settle before the next kill.
 */
async function failover(fixture: Fixture, url: string): Promise<{ perModule: ReturnType<typeof summarize>; perKill: ReturnType<typeof summarize>; kills: number }> {
  const anvil = await startAnvil();
  const miner = setInterval(() => void anvil.rpc('evm_mine').catch(() => {}), BLOCK_MS);
  const modules = Array.from({ length: MODULES }, (_, i) => ({ name: `w${String(i).padStart(2, '0')}`, component: fixture('watcher'), grants: { store: true, logging: true }, triggers: [{ kind: 'block' as const, chain: 31337 }] }));
  let lastChange = Date.now();
  const commitsAfter = new Map<string, { at: number; replica: Replica }[]>();
  const onLine = (replica: Replica, line: ChildLine) => {
    if (line.kind === 'committed') commitsAfter.get(line.module!)?.push({ at: line.at, replica });
    else if (line.kind !== 'drove') lastChange = Date.now();
  };
  let serial = 0;
  const spawnReplica = () => new Replica(`f${serial++}`, { url, modules, leaseMs: DEFAULT_POSTGRES.leaseMs, ...PLACEMENT, rpcUrl: anvil.url, reportCommits: true }, onLine);
  let replicas = [spawnReplica(), spawnReplica(), spawnReplica()];
  const perModule: number[] = [];
  const perKill: number[] = [];
  try {
    await settled(() => replicas, MODULES, () => lastChange, PLACEMENT.minHoldMs, true);
    for (let kill = 0; kill < KILLS; kill++) {
      const victim = replicas.reduce((a, b) => (b.owned.size > a.owned.size ? b : a));
      const lost = [...victim.owned];
      for (const m of lost) commitsAfter.set(m, []);
      const killedAt = Date.now();
      victim.process.kill('SIGKILL');
      await victim.exited;
      replicas = replicas.filter((r) => r !== victim);
      replicas.push(spawnReplica());
      // Each lost module's first commit on another replica after the kill.
      const firstElsewhere = (m: string) => commitsAfter.get(m)!.find((c) => c.replica !== victim && c.at >= killedAt);
      for (;;) {
        if (lost.every(firstElsewhere)) break;
        if (Date.now() - killedAt > STUCK_MS) throw new Error(`failover: after ${STUCK_MS} ms, ${lost.filter((m) => !firstElsewhere(m)).join(', ')} had not committed elsewhere`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const delays = lost.map((m) => firstElsewhere(m)!.at - killedAt);
      perModule.push(...delays);
      perKill.push(Math.max(...delays));
      console.error(`    kill ${kill + 1}/${KILLS}: ${lost.length} modules, all committed elsewhere after ${Math.max(...delays)} ms`);
      for (const m of lost) commitsAfter.delete(m);
      await settled(() => replicas, MODULES, () => lastChange, PLACEMENT.minHoldMs, true);
    }
  } finally {
    clearInterval(miner);
    await Promise.all(replicas.map((r) => r.stop()));
    await anvil.stop();
  }
  return { perModule: summarize(perModule), perKill: summarize(perKill), kills: perKill.length };
}

export async function benchPostgres(runtime: Runtime, fixture: Fixture, row: Row): Promise<Record<string, unknown>> {
  const server = await startPostgres();
  const previousCache = process.env.CORRAL_BENCH_CACHE_DIR;
  process.env.CORRAL_BENCH_CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'corral-bench-pg-cache-'));
  try {
    const commit = await commitLatency(runtime, fixture, await freshDatabase(server));
    const { level, postgres } = commit;
    row('step commit, one event (1 key + cursor), LevelDB: delivery p50 / p99 (minus the guest: p50 / p99)', `${ms2(level.total.p50)} / ${ms2(level.total.p99)} (${ms2(level.commit.p50)} / ${ms2(level.commit.p99)}), ${perSecond(level.eventsPerSecond)}`);
    row('  same on PostgreSQL (synchronous_commit on)', `${ms2(postgres.total.p50)} / ${ms2(postgres.total.p99)} (${ms2(postgres.commit.p50)} / ${ms2(postgres.commit.p99)}), ${perSecond(postgres.eventsPerSecond)}: ${(postgres.commit.p50 / level.commit.p50).toFixed(1)}× LevelDB's p50`, 'commit p50 ≤ 2 ms', postgres.commit.p50 <= 2);

    const jobsLevel = await jobsPerSecond(runtime, fixture, { backend: 'level', stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-pg-jobs-')) });
    const jobsPg = await jobsPerSecond(runtime, fixture, { backend: 'postgres', url: await freshDatabase(server) });
    row(`trivial jobs across ${JOB_MODULES} modules, PostgreSQL vs LevelDB`, `${perSecond(jobsPg)} vs ${perSecond(jobsLevel)} (${Math.round((jobsPg / jobsLevel) * 100)} %)`);

    const throughput: Record<number, Awaited<ReturnType<typeof replicaThroughput>>> = {};
    for (const count of [1, 2, 3]) throughput[count] = await replicaThroughput(fixture, await freshDatabase(server), count);
    const one = throughput[1]!.eventsPerSecond;
    row(`${MODULES} modules driven flat out, 1 / 2 / 3 replicas on one PostgreSQL (one 2-core machine)`, [1, 2, 3].map((n) => `${perSecond(throughput[n]!.eventsPerSecond)} (${(throughput[n]!.eventsPerSecond / one).toFixed(2)}×)`).join(' / '));

    const fail = await failover(fixture, await freshDatabase(server));
    const bound = DEFAULT_POSTGRES.leaseMs + 1_000;
    row(`failover: SIGKILL of an owner → its modules' first commit elsewhere, per kill (slowest module), p50 / p99 over ${fail.kills} kills`, `${fail.perKill.p50.toFixed(0)} ms / ${fail.perKill.p99.toFixed(0)} ms (per module p50 ${fail.perModule.p50.toFixed(0)} ms)`, `p99 ≤ lease + 1 s = ${bound} ms`, fail.perKill.p99 <= bound);
    return { commit, jobsPerSecond: { level: jobsLevel, postgres: jobsPg }, replicas: throughput, failover: fail, leaseMs: DEFAULT_POSTGRES.leaseMs, placement: PLACEMENT };
  } finally {
    if (previousCache === undefined) delete process.env.CORRAL_BENCH_CACHE_DIR;
    await server.destroy();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { newRuntime, fixture } = await import('../test/helpers.ts');
  const runtime = newRuntime();
  console.log(JSON.stringify(await benchPostgres(runtime, fixture as Fixture, (name, value, target) => console.log(`  ${name}: ${value} ${target ?? ''}`)), (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  await runtime.close();
}
