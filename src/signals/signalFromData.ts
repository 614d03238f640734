import { ExecutionTimeout, type ExecutionTimeoutData } from './ExecutionTimeout.ts';
import { HostLimitExceeded, type HostLimitExceededData } from './HostLimitExceeded.ts';
import { MemoryLimitExceeded, type MemoryLimitExceededData } from './MemoryLimitExceeded.ts';
import { OutOfFuel, type OutOfFuelData } from './OutOfFuel.ts';
import { Trap, type TrapData } from './Trap.ts';

export type SignalData = OutOfFuelData | ExecutionTimeoutData | MemoryLimitExceededData | HostLimitExceededData | TrapData;
export type Signal = OutOfFuel | ExecutionTimeout | MemoryLimitExceeded | HostLimitExceeded | Trap;
export type SignalName = Signal['name'];

/**
 * Which signal wins when several apply to one invocation: fuel, then the deadline, then memory, host
 * limits and traps. A guest that keeps going after the host refused it still reports what stopped it first.
 */
export const SIGNAL_PRIORITY: readonly SignalName[] = ['OutOfFuel', 'ExecutionTimeout', 'MemoryLimitExceeded', 'HostLimitExceeded', 'Trap'];

/**
 * The one signal an invocation ends with, of all that applied to it (say, the fuel ran out in the
 * slice in which the deadline passed, or a guest trapped after the host refused it a cap): the first
 * in `SIGNAL_PRIORITY`. The only place the priority is decided.
 */
export function strongestSignal<T extends { signal: SignalName }>(candidates: readonly T[]): T {
  if (candidates.length === 0) throw new TypeError('strongestSignal: no candidates');
  return candidates.reduce((best, next) => (SIGNAL_PRIORITY.indexOf(next.signal) < SIGNAL_PRIORITY.indexOf(best.signal) ? next : best));
}

/** Rebuilds a signal that crossed a thread as data into its class. */
export function signalFromData(data: SignalData): Signal {
  const { signal, ...fields } = data;
  switch (signal) {
    case 'OutOfFuel':
      return new OutOfFuel(fields as Omit<OutOfFuelData, 'signal'>);
    case 'ExecutionTimeout':
      return new ExecutionTimeout(fields as Omit<ExecutionTimeoutData, 'signal'>);
    case 'MemoryLimitExceeded':
      return new MemoryLimitExceeded(fields as Omit<MemoryLimitExceededData, 'signal'>);
    case 'HostLimitExceeded':
      return new HostLimitExceeded(fields as Omit<HostLimitExceededData, 'signal'>);
    case 'Trap':
      return new Trap(fields as Omit<TrapData, 'signal'>);
    default: {
      const unknown: never = signal;
      throw new TypeError(`unknown signal ${String(unknown)}`);
    }
  }
}
