import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../errors/EngineError.ts';
import { purgeDead } from '../jobs/deadLetters.ts';
import { LevelStore } from '../store/LevelStore.ts';

/** What `corral dead-letters purge` is asked: one module or all, and only dead letters older than a duration. */
export interface PurgeDeadLettersParameters {
  module?: string;
  olderThanMs?: number;
  now?: number;
}

/**
 * `corral dead-letters purge <state_dir>`: deletes dead-lettered tasks of a stopped engine's state
 * (every module's, or `module`'s; only those dead for longer than `olderThanMs` when given), giving
 * their bytes back to each module's `storedBytes`. Resolves with how many went, per module.
 *
 * @example
 * await purgeDeadLetters('./state', { module: 'twap', olderThanMs: 86_400_000 }); // { twap: 12 }
 */
export async function purgeDeadLetters(dir: string, parameters: PurgeDeadLettersParameters = {}): Promise<Record<string, number>> {
  if (!existsSync(join(dir, 'CURRENT'))) throw new EngineError('invalid-option', `${dir} is not a corral state directory (no LevelDB database there)`, { option: 'state_dir', value: dir });
  const store = await LevelStore.open(dir).catch((cause: unknown) => {
    throw new EngineError('invalid-option', `cannot open the state in ${dir}: is the engine still running? (LevelDB allows one process)`, { option: 'state_dir', value: dir }, cause);
  });
  try {
    const names = await store.moduleNames();
    if (parameters.module !== undefined && !names.includes(parameters.module)) throw new EngineError('unknown-module', `no module named ${parameters.module} has state in ${dir}`, { module: parameters.module });
    const before = parameters.olderThanMs === undefined ? undefined : (parameters.now ?? Date.now()) - parameters.olderThanMs;
    const purged: Record<string, number> = {};
    for (const name of parameters.module === undefined ? names : [parameters.module]) purged[name] = await purgeDead(await store.module(name), before);
    return purged;
  } finally {
    await store.close();
  }
}
