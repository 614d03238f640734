import type * as Timers from './generated/corral-module-timers.js';
import { timerKey, timerValue } from '../jobs/ModuleTimers.ts';
import { fault } from './fault.ts';
import type { HostImplementation } from './HostImplementation.ts';
import type { InvocationScope } from './InvocationScope.ts';

/** Tags are at most this many bytes (UTF-8). */
export const MAX_TIMER_TAG_BYTES = 256;

function checkTag(tag: string): void {
  const bytes = Buffer.byteLength(tag, 'utf8');
  if (bytes === 0 || bytes > MAX_TIMER_TAG_BYTES) throw fault({ tag: 'invalid-input', val: `tag of ${bytes} bytes: 1 to ${MAX_TIMER_TAG_BYTES}` });
}

/**
 * `corral:module/timers`: a timer is a key in the reserved range of the module's state (see
 * src/jobs/ModuleTimers.ts), staged in the invocation's overlay like any write, so it is set,
 * moved or cancelled only if the invocation commits, and a reorg's undo takes it back with the rest.
 * Each call counts toward `storeOps` and its bytes toward `storeBytesWritten`. A block timer must name
 * a chain the module's triggers follow (`chains`).
 */
export function timersHost(scope: InvocationScope, chains: readonly bigint[]): HostImplementation<typeof Timers> {
  const stage = (tag: string, value: Uint8Array) => {
    const key = timerKey(tag);
    scope.charge('storeBytesWritten', key.byteLength + value.byteLength);
    scope.transaction.set(key, value, (sizeDelta) => scope.check('storedBytes', scope.state.storedBytes + sizeDelta));
  };
  return {
    wakeAtBlock(chainId: bigint, number: bigint, tag: string): void {
      scope.charge('storeOps');
      checkTag(tag);
      if (!chains.includes(BigInt(chainId))) throw fault({ tag: 'denied', val: `chain ${chainId} is not one of ${scope.module}'s triggers` });
      stage(tag, timerValue({ chain: String(chainId), block: String(number) }));
    },
    wakeAtTime(unixMs: bigint, tag: string): void {
      scope.charge('storeOps');
      checkTag(tag);
      const at = Number(unixMs);
      if (!Number.isSafeInteger(at) || at < 0) throw fault({ tag: 'invalid-input', val: `unix-ms ${unixMs} is not a time` });
      stage(tag, timerValue({ at }));
    },
    cancel(tag: string): void {
      scope.charge('storeOps');
      checkTag(tag);
      scope.transaction.delete(timerKey(tag));
    },
  };
}
