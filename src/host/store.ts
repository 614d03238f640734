import type * as Store from './generated/corral-module-store.js';
import { MAX_KEY_BYTES, MAX_LIST_KEYS } from '../limits/defaults.ts';
import { isReserved, RESERVED_RANGE } from '../store/reservedKeys.ts';
import { fault } from './fault.ts';
import type { HostImplementation } from './HostImplementation.ts';
import type { InvocationScope } from './InvocationScope.ts';

/** Refuses a key the module may not use: not bytes, too long, or in corral's reserved range (src/store/reservedKeys.ts). */
export function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw fault({ tag: 'invalid-input', val: 'key must be bytes' });
  if (key.byteLength > MAX_KEY_BYTES) throw fault({ tag: 'invalid-input', val: `key of ${key.byteLength} bytes; at most ${MAX_KEY_BYTES}` });
  if (isReserved(key)) throw fault({ tag: 'invalid-input', val: 'keys starting with 0xff 0x00 "corral/" are reserved for corral' });
}

/**
 * `corral:module/store`: the module's own keys, through the invocation's overlay. Every call counts
 * toward `storeOps`; `set` counts its key + value bytes toward `storeBytesWritten`, and the module's
 * total after this invocation must stay within `storedBytes`.
 */
export function storeHost(scope: InvocationScope): HostImplementation<typeof Store> {
  const tx = scope.transaction;
  return {
    get(key: Uint8Array): Uint8Array | undefined {
      scope.charge('storeOps');
      checkKey(key);
      return tx.get(key);
    },
    set(key: Uint8Array, value: Uint8Array): void {
      scope.charge('storeOps');
      checkKey(key);
      scope.charge('storeBytesWritten', key.byteLength + value.byteLength);
      tx.set(key, value, (sizeDelta) => scope.check('storedBytes', scope.state.storedBytes + sizeDelta));
    },
    delete(key: Uint8Array): void {
      scope.charge('storeOps');
      checkKey(key);
      tx.delete(key);
    },
    async listKeys(prefix: Uint8Array, cursor: Uint8Array | undefined, limit: number): Promise<Uint8Array[]> {
      scope.charge('storeOps');
      checkKey(prefix);
      if (cursor !== undefined && cursor !== null) checkKey(cursor);
      // Reserved keys (corral's timers and tasks, tens of thousands of them maybe) are skipped by a
      // seek, not read: the call reads at most what it may return (staged deletions aside).
      const wanted = Math.min(Math.max(0, limit), MAX_LIST_KEYS);
      if (wanted === 0) return [];
      const keys = (await tx.listKeys(prefix, cursor ?? undefined, wanted, RESERVED_RANGE)).filter((key) => !isReserved(key));
      return keys;
    },
  };
}
