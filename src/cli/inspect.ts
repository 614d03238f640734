import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../errors/EngineError.ts';
import { listTimers } from '../jobs/ModuleTimers.ts';
import type { TimerSpec } from '../jobs/timerWrites.ts';
import { chainOfSource, CRON_PREFIX, isReserved, prefixLimit, suffixOf } from '../store/reservedKeys.ts';
import type { ModuleStore } from '../store/EngineStore.ts';
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

/**
 * What `corral inspect` reports of a state directory (the engine must be stopped: LevelDB allows one
 * process): per module its cursors per source, breaker, keys and stored bytes, undo records, pending
 * timers and tasks (counts); with `module`, that module's keys and values under `prefix`, its timers,
 * cron ticks, and its pending and dead-lettered tasks (each with its last error).
 */
export async function inspectState(dir: string, options: { module?: string; prefix?: string; limit?: number } = {}): Promise<unknown> {
  if (!existsSync(join(dir, 'CURRENT'))) throw new EngineError('invalid-option', `${dir} is not a corral state directory (no LevelDB database there)`, { option: 'state_dir', value: dir });
  let store: LevelStore;
  try {
    store = await LevelStore.open(dir);
  } catch (cause) {
    throw new EngineError('invalid-option', `cannot open the state in ${dir}: is the engine still running? (LevelDB allows one process)`, { option: 'state_dir', value: dir }, cause);
  }
  try {
    if (options.module !== undefined) {
      if (!(await store.moduleNames()).includes(options.module)) throw new EngineError('unknown-module', `no module named ${options.module} has state in ${dir}`, { module: options.module });
      const state = await store.module(options.module);
      const prefix = encoder.encode(options.prefix ?? '');
      const entries: { key: ReturnType<typeof show>; value: ReturnType<typeof show> }[] = [];
      const upper = prefixEnd(prefix);
      for await (const key of state.keys({ gte: prefix, ...(upper ? { lt: upper } : {}), limit: options.limit ?? -1 })) {
        if (isReserved(key)) continue; // corral's own: listed below as timers and cron ticks
        entries.push({ key: show(key), value: show((await state.get(key))!) });
      }
      return { module: options.module, prefix: options.prefix ?? '', entries, ...(await ownKeys(state)) };
    }
    const modules = [];
    for (const name of await store.moduleNames()) {
      const state = await store.module(name);
      let keys = 0;
      for await (const key of state.keys({ limit: -1 })) if (!isReserved(key)) keys++;
      const cursors = await state.cursors();
      const journal: Record<string, number> = {};
      for (const source of Object.keys(cursors)) {
        const chainId = chainOfSource(source);
        if (chainId !== undefined) journal[source] = (await state.journal(chainId)).length;
      }
      const own = await ownKeys(state);
      modules.push({ name, cursors, keys, timers: own.timers.length, jobs: { pending: own.jobs.pending.length, dead: own.jobs.dead.length }, storedBytes: state.storedBytes, undoRecords: journal, breaker: store.breakers.load(name) ?? { state: 'closed' } });
    }
    return { stateDir: dir, modules };
  } finally {
    await store.close();
  }
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
  if (!existsSync(join(dir, 'CURRENT'))) throw new EngineError('invalid-option', `${dir} is not a corral state directory (no LevelDB database there)`, { option: 'state_dir', value: dir });
  const store = await LevelStore.open(dir).catch((cause: unknown) => {
    throw new EngineError('invalid-option', `cannot open the state in ${dir}: is the engine still running? (LevelDB allows one process)`, { option: 'state_dir', value: dir }, cause);
  });
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
