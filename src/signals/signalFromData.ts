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
