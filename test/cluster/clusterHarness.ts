/**
 * Engine replicas on one PostgreSQL, each in a process of its own (replicaProcess.ts), driven like
 * machines: started in parallel, SIGKILLed, frozen with SIGSTOP, thawed with SIGCONT, stopped with
 * SIGTERM. The harness knows what each replica printed (ownership events with epochs, committed steps,
 * job runs) and waits on those lines, never on the clock; a wait that is not satisfied in `waitMs`
 * fails with what was awaited and each replica's last lines.
 *
 * Every child's pid is recorded (in memory and in PID_FILE, which the next run cleans up if this one
 * crashed) and killed by `close()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../src/index.ts';
import { PostgresStore } from '../../src/store/postgres/PostgresStore.ts';
import type { ReplicaLine, ReplicaRequest, ReplicaSpec } from './replicaProcess.ts';

const REPLICA_SCRIPT = fileURLToPath(new URL('./replicaProcess.ts', import.meta.url));
const PID_FILE = join(tmpdir(), 'corral-test-replicas.pids');
const text = (u: Uint8Array) => new TextDecoder().decode(u);

export type OwnLine = Extract<ReplicaLine, { t: 'own' }> & { replica: string };

export interface ClusterOptions {
  url: string;
  rpcUrl?: string;
  leaseMs: number;
  placement: ReplicaSpec['placement'];
  modules: ModuleManifest[];
  /** The replica program (default replicaProcess.ts); it takes a ReplicaSpec and prints ReplicaLines. */
  script?: string;
  /** How long a wait may take before it fails (a bound for a hung test, not a timing claim). */
  waitMs?: number;
}

export class Replica {
  readonly lines: ReplicaLine[] = [];
  /** When it was SIGKILLed, SIGSTOPped or SIGCONTed (epoch ms, this machine's clock, like the lines' `at`). */
  killedAt?: number;
  stoppedAt?: number;
  resumedAt?: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private nextCommand = 1;
  private alive = true;

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
    private readonly cluster: Cluster,
  ) {
    this.exited = new Promise((resolve) =>
      process.once('exit', (code, signal) => {
        this.alive = false;
        resolve({ code, signal });
        cluster.changed();
      }),
    );
    let buffered = '';
    process.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const part of parts) {
        if (!part.startsWith('{')) continue; // a stray write by a library: not protocol
        this.lines.push(JSON.parse(part) as ReplicaLine);
      }
      cluster.changed();
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  get running(): boolean {
    return this.alive && this.killedAt === undefined;
  }

  /** The modules it owns by its own lines (acquired and not yet released or lost), with their epochs. */
  owned(): Map<string, bigint> {
    const owned = new Map<string, bigint>();
    for (const line of this.lines) {
      if (line.t !== 'own') continue;
      if (line.kind === 'acquired') owned.set(line.module, BigInt(line.epoch));
      else if (owned.get(line.module) === BigInt(line.epoch)) owned.delete(line.module);
    }
    return owned;
  }

  ownLines(): OwnLine[] {
    return this.lines.filter((l): l is Extract<ReplicaLine, { t: 'own' }> => l.t === 'own').map((l) => ({ ...l, replica: this.name }));
  }

  /** Resolves with the first line (printed already or to come) that matches. */
  line<L extends ReplicaLine>(match: (line: ReplicaLine) => line is L, what: string): Promise<L>;
  line(match: (line: ReplicaLine) => boolean, what: string): Promise<ReplicaLine>;
  line(match: (line: ReplicaLine) => boolean, what: string): Promise<ReplicaLine> {
    return this.cluster.until(() => {
      const found = this.lines.find(match);
      if (!found && !this.alive) throw new Error(`${this.name} exited before ${what}; stderr:\n${this.cluster.stderrOf(this.name)}`);
      return found;
    }, `${this.name}: ${what}`);
  }

  /** Sends a command on stdin; resolves with its answer. */
  async command(command: ReplicaRequest): Promise<unknown> {
    const id = this.nextCommand++;
    this.process.stdin!.write(`${JSON.stringify({ ...command, id })}\n`);
    const reply = await this.line((l) => l.t === 'reply' && l.id === id, `the answer to ${command.cmd}`);
    if (reply.t === 'reply' && !reply.ok) throw new Error(`${this.name}: ${command.cmd} failed: ${reply.error}`);
    return (reply as { value?: unknown }).value;
  }

  /** SIGKILL: a machine that dies (its sockets close at once). Resolves once it has exited. */
  async kill(): Promise<void> {
    this.killedAt = now();
    this.process.kill('SIGKILL');
    await this.exited;
  }

  /** SIGSTOP: a machine that freezes with its sockets open (a GC pause, a suspended VM). */
  freeze(): void {
    this.stoppedAt = now();
    this.process.kill('SIGSTOP');
  }

  thaw(): void {
    this.resumedAt = now();
    this.process.kill('SIGCONT');
  }

  /** SIGTERM: a graceful stop (its modules handed over); resolves with its exit. */
  async terminate() {
    this.process.kill('SIGTERM');
    return this.exited;
  }

  /** The last lines it printed, for a failure message. */
  tail(n = 8): string {
    return this.lines
      .slice(-n)
      .map((l) => JSON.stringify(l))
      .join('\n    ');
  }
}

export const now = () => performance.timeOrigin + performance.now();

export class Cluster {
  readonly replicas: Replica[] = [];
  private readonly waiters: { check: () => boolean }[] = [];
  private readonly stderr: string[] = [];

  constructor(readonly options: ClusterOptions) {}

  /** Starts replicas in parallel (each takes ~2 s to import the engine through tsx); resolves once each printed `ready`. */
  async start(names: readonly string[], overrides: Partial<ReplicaSpec> = {}): Promise<Replica[]> {
    const started = names.map((name) => this.spawn(name, overrides));
    // A start loads every module a lone replica finds free: on a loaded machine, the longest wait here.
    await Promise.all(started.map((r) => this.until(() => r.lines.find((l) => l.t === 'ready'), `${r.name}: ready`, 2 * (this.options.waitMs ?? 90_000))));
    return started;
  }

  replica(name: string): Replica {
    const found = this.replicas.find((r) => r.name === name);
    if (!found) throw new Error(`no replica ${name}`);
    return found;
  }

  /** Resolves with `probe()`'s first truthy value, re-checked on every line any replica prints. */
  until<T>(probe: () => T | undefined | false, what: string, waitMs = this.options.waitMs ?? 90_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const waiter = {
        check: () => {
          if (settled) return true;
          let value: T | undefined | false;
          try {
            value = probe();
          } catch (error) {
            settled = true;
            clearTimeout(timer);
            reject(error as Error);
            return true;
          }
          if (!value) return false;
          settled = true;
          clearTimeout(timer);
          resolve(value);
          return true;
        },
      };
      // A bound on a hung wait, so the failure says what never happened; not a synchronisation.
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new Error(`waited ${waitMs} ms for ${what}; last lines:\n  ${this.replicas.map((r) => `${r.name} (pid ${r.pid}${r.running ? '' : ', gone'}):\n    ${r.tail()}`).join('\n  ')}\n  stderr: ${this.stderr.slice(-10).join('')}`));
      }, waitMs);
      if (!waiter.check()) this.waiters.push(waiter);
    });
  }

  /** Called on every line and exit: re-checks the waits. */
  changed(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) if (this.waiters[i]!.check()) this.waiters.splice(i, 1);
  }

  /** What a replica wrote on stderr (the last 4 KB). */
  stderrOf(name: string): string {
    return this.stderr
      .filter((chunk) => chunk.startsWith(`[${name}] `))
      .join('')
      .slice(-4_000);
  }

  /** Every ownership line of every replica, in the order they happened (by `at`). */
  ownership(): OwnLine[] {
    return this.replicas.flatMap((r) => r.ownLines()).sort((a, b) => a.at - b.at);
  }

  /** The ownership lines of `modules`, one a line, for a failure message. */
  ownershipOf(modules: readonly string[]): string {
    return this.ownership()
      .filter((l) => modules.includes(l.module))
      .map((l) => `\n    ${l.replica} ${l.kind} ${l.module}@${l.epoch}${l.reason ? ` (${l.reason})` : ''} at ${l.at.toFixed(0)}`)
      .join('');
  }

  /** Who owns each module now, by the lines of replicas still running (a frozen one counts until it says otherwise). */
  owners(): Map<string, string> {
    const owners = new Map<string, string>();
    for (const r of this.replicas) if (r.running) for (const module of r.owned().keys()) owners.set(module, r.name);
    return owners;
  }

  /** The highest block each module committed, by any replica. */
  steps(): Map<string, bigint> {
    const top = new Map<string, bigint>();
    for (const r of this.replicas)
      for (const l of r.lines)
        if (l.t === 'step') {
          const n = BigInt(l.number);
          if (n > (top.get(l.module) ?? -1n)) top.set(l.module, n);
        }
    return top;
  }

  /** Resolves once every module in `modules` has committed a step at `block` or beyond. */
  reached(modules: readonly string[], block: bigint): Promise<true> {
    return this.until(() => {
      const top = this.steps();
      return modules.every((m) => (top.get(m) ?? -1n) >= block);
    }, `every module at block ${block} (behind: ${modules.filter((m) => (this.steps().get(m) ?? -1n) < block).slice(0, 5).join(', ')}…)`);
  }

  /** Resolves once every module is owned by a running replica, and `enough(owners)` holds. */
  placed(modules: readonly string[], enough: (owners: Map<string, string>) => boolean = () => true, what = 'every module owned'): Promise<Map<string, string>> {
    return this.until(
      () => {
        const owners = this.owners();
        return modules.every((m) => owners.has(m)) && enough(owners) ? owners : undefined;
      },
      what,
    ).catch((error: Error) => {
      const owners = this.owners();
      throw new Error(`${error.message}\n  owners now: ${JSON.stringify(Object.fromEntries(owners))}\n  unowned: ${modules.filter((m) => !owners.has(m)).join(', ')}\n  their lines: ${this.ownershipOf(modules.filter((m) => !owners.has(m)))}`);
    });
  }

  /** SIGKILLs every child still alive (thawing none: SIGKILL ends a stopped process too). */
  async close(): Promise<void> {
    await Promise.all(
      this.replicas.map(async (r) => {
        if (r.process.exitCode !== null || r.process.signalCode !== null) return;
        r.process.kill('SIGKILL');
        await r.exited;
      }),
    );
  }

  private spawn(name: string, overrides: Partial<ReplicaSpec>): Replica {
    const { url, rpcUrl, leaseMs, placement, modules } = this.options;
    const spec: ReplicaSpec = { replica: name, url, leaseMs, placement, modules, ...(rpcUrl ? { rpcUrl } : {}), ...overrides };
    const child = spawn(process.execPath, ['--import', 'tsx', this.options.script ?? REPLICA_SCRIPT, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
    appendFileSync(PID_FILE, `${child.pid} ${process.pid}\n`);
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr.push(`[${name}] ${chunk.toString()}`);
      if (process.env.CORRAL_CLUSTER_STDERR) process.stderr.write(`[${name}] ${chunk.toString()}`);
    });
    const replica = new Replica(name, child, this);
    this.replicas.push(replica);
    return replica;
  }
}

/**
 * Kills replica processes a crashed earlier run left behind (their pids are in PID_FILE, each with the
 * pid of the test process that started it). A replica whose test process still runs belongs to a run
 * going on beside this one (the machine is shared): it is left alone, and so is its line.
 */
export function killLeftoverReplicas(): void {
  if (!existsSync(PID_FILE)) return;
  const kept: string[] = [];
  for (const line of readFileSync(PID_FILE, 'utf8').split('\n')) {
    const [pid, parent] = line.split(' ').map(Number);
    if (!pid) continue;
    if (parent && alive(parent)) {
      kept.push(line);
      continue;
    }
    try {
      // Only a replica: a recorded pid may have been reused since.
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('replicaProcess')) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (kept.length > 0) writeFileSync(PID_FILE, `${kept.join('\n')}\n`);
  else unlinkSync(PID_FILE);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The ownership guarantees as the lines show them, for every module:
 * - epochs strictly increase in the order acquisitions happened;
 * - an acquisition by one replica comes only after the previous owner's tenure ended: it printed
 *   `released` or `lost` for that epoch before, or it had been SIGKILLed before; a replica in `frozen`
 *   (SIGSTOPped past its lease) may print its `lost` later, once thawed, but never `released`;
 * - a replica commits steps of a module only while it owns it (frozen replicas excepted: a step whose
 *   commit returned before the freeze may be printed after the thaw).
 * Returns the violations (empty when the guarantees held), each a sentence naming module, replicas, epochs.
 */
export function ownershipViolations(cluster: Cluster, options: { frozen?: readonly string[] } = {}): string[] {
  const frozen = new Set(options.frozen ?? []);
  const violations: string[] = [];
  const lines = cluster.ownership();
  const byModule = new Map<string, OwnLine[]>();
  for (const l of lines) byModule.set(l.module, [...(byModule.get(l.module) ?? []), l]);
  for (const [module, events] of byModule) {
    // An `acquired` printed twice for one epoch (at start and from the subject) is one acquisition.
    const acquisitions = events.filter((e, i) => e.kind === 'acquired' && !events.slice(0, i).some((p) => p.kind === 'acquired' && p.epoch === e.epoch && p.replica === e.replica));
    for (let i = 0; i < acquisitions.length; i++) {
      const a = acquisitions[i]!;
      const next = acquisitions[i + 1];
      if (next && BigInt(next.epoch) <= BigInt(a.epoch)) violations.push(`${module}: epoch ${next.epoch} (${next.replica}) acquired after epoch ${a.epoch} (${a.replica})`);
      const end = events.find((e) => e.replica === a.replica && e.epoch === a.epoch && e.kind !== 'acquired');
      if (!next) continue;
      const owner = cluster.replica(a.replica);
      const endedAt = end?.at ?? owner.killedAt ?? Infinity;
      // A handover's `released` is printed after the database let the module go, so the next owner's
      // `acquired` may be printed first (a fresh clone's CI saw 1.2 ms): what would show two owners is
      // a step the releaser printed after that acquisition (its steps end before it begins to release).
      if (end?.kind === 'released' && endedAt > next.at) {
        const late = owner.lines.find((l) => l.t === 'step' && l.module === module && l.at > next.at && l.at <= endedAt);
        if (late) violations.push(`${module}: ${a.replica} committed a step after ${next.replica} acquired epoch ${next.epoch}, before it printed its release of epoch ${a.epoch}`);
        continue;
      }
      if (endedAt > next.at && !(frozen.has(a.replica) && end?.kind !== 'released')) {
        violations.push(`${module}: ${next.replica} acquired epoch ${next.epoch} while ${a.replica} still owned epoch ${a.epoch} (${end ? `${end.kind} ${(end.at - next.at).toFixed(1)} ms later` : 'never released'})`);
      }
    }
  }
  for (const r of cluster.replicas) {
    if (frozen.has(r.name)) continue;
    const own = r.ownLines();
    for (const step of r.lines) {
      if (step.t !== 'step') continue;
      const held = own.some((a) => a.kind === 'acquired' && a.module === step.module && a.at <= step.at && !own.some((e) => e.kind !== 'acquired' && e.module === a.module && e.epoch === a.epoch && e.at < step.at));
      if (!held) violations.push(`${r.name} committed ${step.module} at block ${step.number} without owning it`);
    }
  }
  return violations;
}

/** A module's committed state as text (key → value), read from PostgreSQL without taking its lease. */
export async function postgresState(url: string, modules: readonly string[]): Promise<Record<string, Record<string, string>>> {
  const store = await PostgresStore.open({ url, mode: 'read', onError: () => {} });
  try {
    const out: Record<string, Record<string, string>> = {};
    for (const name of modules) {
      const module = await store.module(name);
      const state: Record<string, string> = {};
      for await (const key of module.keys({ limit: -1 })) state[text(key)] = text((await module.get(key))!);
      out[name] = state;
    }
    return out;
  } finally {
    await store.close();
  }
}

/** The `ev/<n>` records of a watcher's state, in order (see fixtures/modules/watcher). */
export function watcherRecords(state: Record<string, string>): string[] {
  return Object.keys(state)
    .filter((k) => k.startsWith('ev/'))
    .sort()
    .map((k) => state[k]!);
}

/** Records that occur more than once: a step applied twice. */
export function duplicates(records: readonly string[]): string[] {
  const seen = new Set<string>();
  return records.filter((r) => (seen.has(r) ? true : (seen.add(r), false)));
}
