import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../errors/EngineError.ts';
import { listTimers } from '../jobs/ModuleTimers.ts';
import type { TimerSpec } from '../jobs/timerWrites.ts';
import { chainOfSource, CRON_PREFIX, isReserved, prefixLimit, suffixOf } from '../store/reservedKeys.ts';
import type { ModuleStore, StoredBreaker } from '../store/EngineStore.ts';
import { DEFAULT_POSTGRES } from '../limits/defaults.ts';
import { LevelStore } from '../store/LevelStore.ts';
import { prefixEnd } from '../store/StateTransaction.ts';
import { deadJobs, pendingJobs, retryDead } from '../jobs/deadLetters.ts';
import type { Job } from '../jobs/Job.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** Bytes shown both ways: hex always, UTF-8 when they are valid UTF-8. */
function show(bytes: Uint8Array): { hex: string; utf8?: string } {
  const hex = Buffer.from(bytes).toString('hex');
  try {
    return { hex, utf8: utf8.decode(bytes) };
  } catch {
    return { hex };
  }
}

/** What `corral inspect` is asked: one module's keys (under `prefix`, `limit` at most), or every module's summary. */
export interface InspectOptions {
  module?: string;
  prefix?: string;
  limit?: number;
}

/**
 * What the report reads, the same for both backends: the modules that have state, each module's
 * committed state, its breaker, and (PostgreSQL) who owns it now.
 */
interface InspectSource {
  /** Where the state is, as the report names it (`stateDir` or a redacted `url` and `schema`). */
  where: Record<string, unknown>;
  names: string[];
  module(name: string): Promise<ModuleStore>;
  breaker(name: string): StoredBreaker | undefined;
  /** Extra fields of a module's summary (its owner replica and epoch on PostgreSQL). */
  extra?(name: string): Record<string, unknown>;
}

/**
 * Opens a stopped engine's LevelDB state directory; a clear error if it is none, or if the engine
 * still holds it (LevelDB allows one process).
 */
export async function openStateDir(dir: string): Promise<LevelStore> {
  if (!existsSync(join(dir, 'CURRENT'))) throw new EngineError('invalid-option', `${dir} is not a corral state directory (no LevelDB database there)`, { option: 'state_dir', value: dir });
  try {
    return await LevelStore.open(dir);
  } catch (cause) {
    throw new EngineError('invalid-option', `cannot open the state in ${dir}: is the engine still running? (LevelDB allows one process)`, { option: 'state_dir', value: dir }, cause);
  }
}

/**
 * What `corral inspect` reports of a state directory (the engine must be stopped: LevelDB allows one
 * process): per module its cursors per source, breaker, keys and stored bytes, undo records, pending
 * timers and tasks (counts); with `module`, that module's keys and values under `prefix`, its timers,
 * cron ticks, and its pending and dead-lettered tasks (each with its last error).
 */
export async function inspectState(dir: string, options: InspectOptions = {}): Promise<unknown> {
  const store = await openStateDir(dir);
  try {
    return await report({ where: { stateDir: dir }, names: await store.moduleNames(), module: (name) => store.module(name), breaker: (name) => store.breakers.load(name) }, options);
  } finally {
    await store.close();
  }
}

/**
 * The same report of a PostgreSQL store, read while its replicas run: it opens the store read-only
 * (no lease, no replica registered, nothing written) and adds each module's owner replica and epoch.
 * What it shows of a module is its last committed state; a module that commits meanwhile may be read
 * between two of its commits (each commit is atomic, so never half of one).
 */
export async function inspectPostgres(target: { url: string; schema?: string }, options: InspectOptions = {}): Promise<unknown> {
  // Imported here so LevelDB users never load `pg`.
  const { PostgresStore } = await import('../store/postgres/PostgresStore.ts');
  const store = await PostgresStore.open({ url: target.url, ...(target.schema ? { schema: target.schema } : {}), mode: 'read' });
  try {
    const ownership = new Map((await store.ownership()).map((o) => [o.name, o]));
    const where = { url: redactUrl(target.url), schema: target.schema ?? DEFAULT_POSTGRES.schema };
    return await report(
      {
        where,
        names: await store.moduleNames(),
        module: (name) => store.module(name),
        breaker: (name) => store.breakers.load(name),
        extra: (name) => {
          const o = ownership.get(name);
          return { owner: o?.owner ?? null, epoch: o?.epoch ?? 0n };
        },
      },
      options,
    );
  } finally {
    await store.close();
  }
}

/**
 * The report of the store an engine.toml names: its `[store]` on PostgreSQL (url and schema, `${ENV}`
 * substituted as for `corral run`), else its LevelDB `engine.state_dir`.
 */
export async function inspectConfigured(file: string, options: InspectOptions = {}): Promise<unknown> {
  // Imported here: the configuration's schemas (zod) cost ~half a second of `corral inspect <state_dir>`'s start.
  const { loadConfig } = await import('../config/loadConfig.ts');
  const { config } = await loadConfig(file);
  if (config.store.backend === 'postgres') return inspectPostgres({ url: config.store.url!, schema: config.store.schema }, options);
  return inspectState(config.engine.stateDir, options);
}

/** A URL as a report or a message may show it: without its password. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(a malformed url)';
  }
}

async function report(source: InspectSource, options: InspectOptions): Promise<unknown> {
  const where = Object.values(source.where)[0];
  if (options.module !== undefined) {
    if (!source.names.includes(options.module)) throw new EngineError('unknown-module', `no module named ${options.module} has state in ${String(where)}`, { module: options.module });
    const state = await source.module(options.module);
    const prefix = encoder.encode(options.prefix ?? '');
    const entries: { key: ReturnType<typeof show>; value: ReturnType<typeof show> }[] = [];
    const upper = prefixEnd(prefix);
    for await (const key of state.keys({ gte: prefix, ...(upper ? { lt: upper } : {}), limit: options.limit ?? -1 })) {
      if (isReserved(key)) continue; // corral's own: listed below as timers and cron ticks
      entries.push({ key: show(key), value: show((await state.get(key))!) });
    }
    return { module: options.module, ...source.extra?.(options.module), prefix: options.prefix ?? '', entries, ...(await ownKeys(state)) };
  }
  const modules = [];
  for (const name of source.names) {
    const state = await source.module(name);
    let keys = 0;
    for await (const key of state.keys({ limit: -1 })) if (!isReserved(key)) keys++;
    const cursors = await state.cursors();
    const journal: Record<string, number> = {};
    for (const cursorSource of Object.keys(cursors)) {
      const chainId = chainOfSource(cursorSource);
      if (chainId !== undefined) journal[cursorSource] = (await state.journal(chainId)).length;
    }
    const own = await ownKeys(state);
    modules.push({ name, ...source.extra?.(name), cursors, keys, timers: own.timers.length, jobs: { pending: own.jobs.pending.length, dead: own.jobs.dead.length }, storedBytes: state.storedBytes, undoRecords: journal, breaker: source.breaker(name) ?? { state: 'closed' } });
  }
  return { ...source.where, modules };
}

/** A task as inspect shows it. */
const showJob = ({ id, type, payload, attempts, maxRetry, runAt, enqueuedAt, enqueuedBy, version, lastError, deadAt }: Job) => ({
  id,
  type,
  payload,
  attempts,
  maxRetry,
  runAt,
  enqueuedAt,
  enqueuedBy,
  version,
  ...(lastError === undefined ? {} : { lastError }),
  ...(deadAt === undefined ? {} : { deadAt }),
});

/**
 * `corral retry-job`: a dead-lettered task of a stopped engine's module pending again, due at once
 * (its attempts reset); the engine runs it when it next starts.
 */
export async function retryDeadJob(dir: string, module: string, id: string, now = Date.now()): Promise<Job> {
  const store = await openStateDir(dir);
  try {
    if (!(await store.moduleNames()).includes(module)) throw new EngineError('unknown-module', `no module named ${module} has state in ${dir}`, { module });
    return await retryDead(await store.module(module), id, now);
  } finally {
    await store.close();
  }
}

/** A module's pending timers, its cron triggers' last handled ticks, its pending and dead tasks (corral's reserved keys). */
async function ownKeys(state: ModuleStore): Promise<{ timers: { tag: string; spec: TimerSpec }[]; cronTicks: Record<string, number>; jobs: { pending: ReturnType<typeof showJob>[]; dead: ReturnType<typeof showJob>[] } }> {
  const timers = await listTimers(state);
  const cronTicks: Record<string, number> = {};
  for await (const key of state.keys({ gte: CRON_PREFIX, lt: prefixLimit(CRON_PREFIX), limit: -1 })) {
    cronTicks[suffixOf(key, CRON_PREFIX)!] = Number(Buffer.from((await state.get(key))!).toString('utf8'));
  }
  const jobs = { pending: (await pendingJobs(state)).map(showJob), dead: (await deadJobs(state)).map(showJob) };
  return { timers: timers.map(({ tag, spec }) => ({ tag, spec })), cronTicks, jobs };
}
