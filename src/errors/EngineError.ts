import { CorralError } from './CorralError.ts';

export type EngineErrorCode =
  | 'invalid-option' // an option or argument is out of range or malformed (details name it)
  | 'unknown-module' // no module (or actor) of that name runs here
  | 'duplicate-module' // two modules (or actors) share a name
  | 'invalid-trigger' // a module's triggers contradict each other or name an unconfigured chain
  | 'invalid-grant' // a module's `messages` grant names a module that is not there, or that takes no messages from it (details name both)
  | 'chain-mismatch' // a chain's RPC endpoint serves another chain id
  | 'chain-unreachable' // a chain's RPC endpoint did not answer at start
  | 'chain-behind' // no endpoint of a chain's pool has reached the block asked for (yet)
  | 'unknown-job' // no dead-lettered job of that id in the module
  | 'stopped' // the engine (or supervisor) has stopped
  | 'store-unreachable' // the store's database does not answer at its url (details name host and port)
  | 'store-auth' // the store's database refused the credentials
  | 'store-permission' // the store's database role may not create or use corral's schema
  | 'store-no-database' // the store's url names a database that does not exist
  | 'store-schema-newer' // the database holds a corral schema newer than this corral knows
  | 'module-held' // another replica owns the module now (its lease and epoch)
  | 'fenced' // a commit found another replica's epoch: this replica no longer owns the module, nothing was written
  | 'store-lost' // the store connection failed mid-commit or the lease was lost: the module stops, nothing more is written
  | 'migrate-failed' // a promoted version's `migrate` answered err or was stopped by a signal: nothing of it was committed, the earlier version runs on
  | 'promote-failed'; // a promoted version could not be loaded (after its `migrate` committed, when details.migrated): the earlier version runs on the state as it is

/** Something an embedder or operator asked of the engine that it cannot do. The engine keeps running. */
export class EngineError extends CorralError<EngineErrorCode> {
  override readonly name = 'EngineError';

  constructor(code: EngineErrorCode, shortMessage: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(code, shortMessage, details, cause);
  }
}
