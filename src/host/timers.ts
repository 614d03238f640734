import type * as Timers from './generated/corral-module-timers.js';
import { DEFAULT_MAX_PENDING_TIMERS, MAX_TIMER_TAG_BYTES } from '../limits/defaults.ts';
import { countOf, removeTimerWrites, setTimerWrites, type TimerSpec } from '../jobs/timerWrites.ts';
import { TIMER_COUNT_KEY, timerKey } from '../store/reservedKeys.ts';
import { fault } from './fault.ts';
import type { HostImplementation } from './HostImplementation.ts';
import type { InvocationScope } from './InvocationScope.ts';

function checkTag(tag: string): void {
  const bytes = Buffer.byteLength(tag, 'utf8');
  if (bytes === 0 || bytes > MAX_TIMER_TAG_BYTES) throw fault({ tag: 'invalid-input', val: `tag of ${bytes} bytes: 1 to ${MAX_TIMER_TAG_BYTES}` });
}

/**
 * `corral:module/timers`: a timer is a few keys in the reserved range of the module's state (see
 * src/jobs/timerWrites.ts), staged in the invocation's overlay like any write, so it is set, moved or
 * cancelled only if the invocation commits, and a reorg's undo takes it back with the rest unless another
 * source moved, cancelled or fired it since (src/store/ReorgMarks.ts). Each call
 * counts toward `storeOps` and its bytes toward `storeBytesWritten`. A block timer must name a chain
 * the module's triggers follow (`chains`). A new tag past `maxPending` timers is refused with
 * `limit("pending-timers")`: a fault, not a signal, so a module at its cap keeps running (and its
 * timer events keep being consumed) instead of every one of them failing and retrying.
 */
export function timersHost(scope: InvocationScope, chains: readonly bigint[], maxPending = DEFAULT_MAX_PENDING_TIMERS): HostImplementation<typeof Timers> {
  const tx = scope.transaction;
  const stage = (writes: ReturnType<typeof setTimerWrites>) => {
    for (const { key, value } of writes) {
      if (value === null) tx.delete(key);
      else {
        scope.charge('storeBytesWritten', key.byteLength + value.byteLength);
        tx.set(key, value, (sizeDelta) => scope.check('storedBytes', scope.state.storedBytes + sizeDelta));
      }
    }
  };
  const set = (tag: string, spec: TimerSpec) => {
    const previous = tx.get(timerKey(tag));
    const count = countOf(tx.get(TIMER_COUNT_KEY));
    if (previous === undefined && count >= maxPending) throw fault({ tag: 'limit', val: 'pending-timers' });
    stage(setTimerWrites(tag, spec, previous, count));
  };
  return {
    wakeAtBlock(chainId: bigint, number: bigint, tag: string): void {
      scope.charge('storeOps');
      checkTag(tag);
      if (!chains.includes(BigInt(chainId))) throw fault({ tag: 'denied', val: `chain ${chainId} is not one of ${scope.module}'s triggers` });
      set(tag, { chain: String(chainId), block: String(number) });
    },
    wakeAtTime(unixMs: bigint, tag: string): void {
      scope.charge('storeOps');
      checkTag(tag);
      const at = Number(unixMs);
      if (!Number.isSafeInteger(at) || at < 0) throw fault({ tag: 'invalid-input', val: `unix-ms ${unixMs} is not a time` });
      set(tag, { at });
    },
    cancel(tag: string): void {
      scope.charge('storeOps');
      checkTag(tag);
      const previous = tx.get(timerKey(tag));
      if (previous !== undefined) stage(removeTimerWrites(tag, previous, countOf(tx.get(TIMER_COUNT_KEY))));
    },
  };
}
