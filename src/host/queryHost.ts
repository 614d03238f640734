import type { HostImports } from '../runtime/HostImports.ts';
import type { HostBinding, HostInterface } from './bindHost.ts';
import { fault } from './fault.ts';
import type { InvocationScope } from './InvocationScope.ts';
import { loggingHost } from './logging.ts';
import type { Bytes } from '../store/EngineStore.ts';
import { checkKey, storeHost } from './store.ts';

/** Why a query's host call was refused: a query reads the module's committed state and nothing else. */
const READ_ONLY = 'read-only: a query may not change state';
const NOT_IN_QUERY = (what: string) => `${what} is not available to a query (it may read the module's state and log, nothing else)`;

/** A function that answers every call with `denied`: the guest gets a WIT `err`, never a trap, and decides what to do with it. */
function denied(reason: string) {
  return () => {
    throw fault({ tag: 'denied', val: reason });
  };
}

/**
 * The host imports of one query (the `query` export of `queryable-module`, wit/module.wit), bound to
 * its scope, whose transaction reads the module's committed state through a read view and is never
 * committed. Only reads and logging work:
 * - `store`: `get` (through `read`) and `list-keys` over the view (counted as `storeOps`, reserved
 *   keys refused or skipped as in an event); `set` and `delete` answer `denied("read-only…")`, so a
 *   query cannot even stage a write. `get` reads asynchronously (the bridge awaits it, as it awaits
 *   `chain.request`): a PostgreSQL view has no synchronous read, and ~20 µs more per read on LevelDB
 *   is nothing next to a query's HTTP round trip;
 * - `logging`: records through the query's logger, counted against `logRecords` and `logBytes`;
 * - `chain`, `http`, `cow-api`, `timers`, `queue`, `messages`, `triggers`: every function answers `denied`;
 * - `invocation`: its one function answers a string, not a `result`, so it traps: a query is no step
 *   and has no idempotency key, and a made-up one could make a target drop an effect that is no repeat.
 * The imports the component declares decide which objects exist (the runtime checks them all at load).
 */
export function bindQueryHost(specifiers: HostBinding['specifiers'], scope: InvocationScope, read: (key: Bytes) => Promise<Bytes | undefined>): HostImports {
  const imports: HostImports = {};
  const all = specifiers as Record<HostInterface, string | undefined>;
  if (all.store) {
    const store = storeHost(scope);
    const get = (key: Uint8Array) => {
      scope.charge('storeOps');
      checkKey(key);
      return read(key);
    };
    imports[all.store] = { get, listKeys: store.listKeys, set: denied(READ_ONLY), delete: denied(READ_ONLY) };
  }
  if (all.logging) imports[all.logging] = loggingHost(scope);
  if (all.chain) imports[all.chain] = { request: denied(NOT_IN_QUERY('chain.request')) };
  if (all.http) imports[all.http] = { fetch: denied(NOT_IN_QUERY('http.fetch')) };
  if (all.cowApi) imports[all.cowApi] = { request: denied(NOT_IN_QUERY('cow-api.request')), submitOrder: denied(NOT_IN_QUERY('cow-api.submit-order')) };
  if (all.timers) {
    const timers = denied(NOT_IN_QUERY('timers'));
    imports[all.timers] = { wakeAtBlock: timers, wakeAtTime: timers, cancel: timers };
  }
  if (all.queue) imports[all.queue] = { enqueue: denied(NOT_IN_QUERY('queue.enqueue')) };
  if (all.messages) imports[all.messages] = { send: denied(NOT_IN_QUERY('messages.send')) };
  if (all.triggers) imports[all.triggers] = { addAddress: denied(NOT_IN_QUERY('triggers.add-address')), removeAddress: denied(NOT_IN_QUERY('triggers.remove-address')) };
  if (all.invocation) {
    imports[all.invocation] = {
      idempotencyKey: () => {
        throw new Error(`corral:module/invocation#idempotency-key: a query of ${scope.module} is no step and has no idempotency key`);
      },
    };
  }
  return imports;
}
