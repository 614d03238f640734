import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../errors/EngineError.ts';
import { chainOfSource, SHADOW_REPORT_KEY } from '../store/reservedKeys.ts';
import type { EngineStore, ReadView } from '../store/EngineStore.ts';
import { DEFAULT_POSTGRES } from '../limits/defaults.ts';
import { LevelStore } from '../store/LevelStore.ts';
import { retryDead } from '../jobs/deadLetters.ts';
import type { Job } from '../jobs/Job.ts';
import { storedReport, type InspectOptions } from '../metrics/api/stateReport.ts';

export type { InspectOptions };

const unknownModule = (where: string) => (module: string) => new EngineError('unknown-module', `no module named ${module} has state in ${where}`, { module });

/** Each chain's undo records a stopped module keeps (the journal: the store's alone, not a read view's). */
async function undoRecords(store: EngineStore, name: string, cursors: Record<string, unknown>): Promise<Record<string, number>> {
  const module = await store.module(name);
  const journal: Record<string, number> = {};
  for (const source of Object.keys(cursors)) {
    const chainId = chainOfSource(source);
    if (chainId !== undefined) journal[source] = (await module.journal(chainId)).length;
  }
  return journal;
}

/**
 * The module's last shadow report (docs/shadow.md), kept under a reserved key apart from its steps'
 * commits: `{ shadow }` with the candidate, its counts and its first differences; nothing when it had no shadow.
 */
async function shadowSection(view: ReadView, name: string): Promise<Record<string, unknown>> {
  const raw = await (await view.module(name))?.get(SHADOW_REPORT_KEY);
  if (!raw) return {};
  try {
    return { shadow: JSON.parse(Buffer.from(raw).toString('utf8')) as unknown };
  } catch {
    return { shadow: { unreadable: true } };
  }
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
  const view = await store.readView();
  try {
    const extra = async (name: string) => ({ ...(options.module !== undefined ? {} : { undoRecords: await undoRecords(store, name, (await (await view.module(name))?.cursors()) ?? {}) }), ...(await shadowSection(view, name)) });
    return await storedReport({ where: { stateDir: dir }, names: await store.moduleNames(), view, breaker: (name) => store.breakers.load(name), extra }, options, unknownModule(dir));
  } finally {
    await view.close();
    await store.close();
  }
}

/**
 * The same report of a PostgreSQL store, read while its replicas run: it opens the store read-only
 * (no lease, no replica registered, nothing written) and adds each module's owner replica and epoch.
 * The report is read in one snapshot (PostgresReadView), so it shows every module as of one moment,
 * each commit whole or not at all; the undo record counts are read beside it.
 */
export async function inspectPostgres(target: { url: string; schema?: string }, options: InspectOptions = {}): Promise<unknown> {
  // Imported here so LevelDB users never load `pg`.
  const { PostgresStore } = await import('../store/postgres/PostgresStore.ts');
  const store = await PostgresStore.open({ url: target.url, ...(target.schema ? { schema: target.schema } : {}), mode: 'read' });
  try {
    const ownership = new Map((await store.ownership()).map((o) => [o.name, o]));
    const where = { url: redactUrl(target.url), schema: target.schema ?? DEFAULT_POSTGRES.schema };
    const view = await store.readView();
    try {
      const extra = async (name: string) => {
        const o = ownership.get(name);
        const owner = { owner: o?.owner ?? null, epoch: o?.epoch ?? 0n };
        return options.module !== undefined ? owner : { ...owner, undoRecords: await undoRecords(store, name, (await (await view.module(name))?.cursors()) ?? {}) };
      };
      return await storedReport({ where, names: await store.moduleNames(), view, breaker: (name) => store.breakers.load(name), extra }, options, unknownModule(String(where.url)));
    } finally {
      await view.close();
    }
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
