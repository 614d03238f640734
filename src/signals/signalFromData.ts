import { ExecutionTimeout, type ExecutionTimeoutData } from './ExecutionTimeout.ts';
import { MemoryLimitExceeded, type MemoryLimitExceededData } from './MemoryLimitExceeded.ts';
import { OutOfFuel, type OutOfFuelData } from './OutOfFuel.ts';
import { Trap, type TrapData } from './Trap.ts';

export type SignalData = OutOfFuelData | ExecutionTimeoutData | MemoryLimitExceededData | TrapData;
export type Signal = OutOfFuel | ExecutionTimeout | MemoryLimitExceeded | Trap;
export type SignalName = Signal['name'];

/**
 * Which signal wins when several apply to one invocation: fuel, then the deadline, then memory and
 * traps. A guest that catches the host's exception and traps later still reports what stopped it first.
 */
export const SIGNAL_PRIORITY: readonly SignalName[] = ['OutOfFuel', 'ExecutionTimeout', 'MemoryLimitExceeded', 'Trap'];

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
    case 'Trap':
      return new Trap(fields as Omit<TrapData, 'signal'>);
    default: {
      const unknown: never = signal;
      throw new TypeError(`unknown signal ${String(unknown)}`);
    }
  }
}
