import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../errors/EngineError.ts';
import { deadMessages, purgeDeadMessages, type DeadMessage } from '../engine/messageDeadLetters.ts';
import { deadJobs, purgeDead } from '../jobs/deadLetters.ts';
import type { Job } from '../jobs/Job.ts';
import { LevelStore } from '../store/LevelStore.ts';

/** What `corral dead-letters purge` is asked: one module or all, and only dead letters older than a duration. */
export interface PurgeDeadLettersParameters {
  module?: string;
  olderThanMs?: number;
  now?: number;
}

/** Opens a stopped engine's state and runs `each` on every module's store (or `module`'s only). */
async function eachModule<T>(dir: string, module: string | undefined, each: (store: Awaited<ReturnType<LevelStore['module']>>) => Promise<T>): Promise<Record<string, T>> {
  if (!existsSync(join(dir, 'CURRENT'))) throw new EngineError('invalid-option', `${dir} is not a corral state directory (no LevelDB database there)`, { option: 'state_dir', value: dir });
  const store = await LevelStore.open(dir).catch((cause: unknown) => {
    throw new EngineError('invalid-option', `cannot open the state in ${dir}: is the engine still running? (LevelDB allows one process)`, { option: 'state_dir', value: dir }, cause);
  });
  try {
    const names = await store.moduleNames();
    if (module !== undefined && !names.includes(module)) throw new EngineError('unknown-module', `no module named ${module} has state in ${dir}`, { module });
    const out: Record<string, T> = {};
    for (const name of module === undefined ? names : [module]) out[name] = await each(await store.module(name));
    return out;
  } finally {
    await store.close();
  }
}

/**
 * `corral dead-letters purge <state_dir>`: deletes dead letters of a stopped engine's state, tasks and
 * messages (every module's, or `module`'s; only those dead for longer than `olderThanMs` when given),
 * giving their bytes back to each module's `storedBytes`. Resolves with how many went, per module.
 *
 * @example
 * await purgeDeadLetters('./state', { module: 'twap', olderThanMs: 86_400_000 }); // { twap: 12 }
 */
export async function purgeDeadLetters(dir: string, parameters: PurgeDeadLettersParameters = {}): Promise<Record<string, number>> {
  const before = parameters.olderThanMs === undefined ? undefined : (parameters.now ?? Date.now()) - parameters.olderThanMs;
  return eachModule(dir, parameters.module, async (store) => (await purgeDead(store, before)) + (await purgeDeadMessages(store, before)));
}

/** One module's dead letters: its tasks (each with its last error) and the messages it received that failed past their retries. */
export interface ModuleDeadLetters {
  tasks: Job[];
  messages: DeadMessage[];
}

/**
 * `corral dead-letters list <state_dir>`: a stopped engine's dead letters, per module that has any
 * (or `module`'s, even if none).
 *
 * @example
 * await listDeadLetters('./state', { module: 'r' }); // { r: { tasks: [], messages: [{ from: 's', seq: 2, payload: 'p', … }] } }
 */
export async function listDeadLetters(dir: string, parameters: { module?: string } = {}): Promise<Record<string, ModuleDeadLetters>> {
  const all = await eachModule(dir, parameters.module, async (store) => ({ tasks: await deadJobs(store), messages: await deadMessages(store) }));
  if (parameters.module !== undefined) return all;
  return Object.fromEntries(Object.entries(all).filter(([, d]) => d.tasks.length + d.messages.length > 0));
}
