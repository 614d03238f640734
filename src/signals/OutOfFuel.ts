import { RuntimeSignal, type InvocationContext } from './RuntimeSignal.ts';

export interface OutOfFuelData extends InvocationContext {
  signal: 'OutOfFuel';
  fuelLimit: number;
  /** Fuel charged when the budget ran out: at least `fuelLimit`, by at most one block's cost. */
  fuelUsed: number;
}

/** The invocation used up its fuel budget. Highest priority: reported even if a trap followed. */
export class OutOfFuel extends RuntimeSignal {
  override readonly name = 'OutOfFuel' as const;
  readonly fuelLimit: number;
  readonly fuelUsed: number;

  constructor(data: Omit<OutOfFuelData, 'signal'>) {
    super(`${data.component}.${data.exportName} ran out of fuel (limit ${data.fuelLimit})`, data);
    this.fuelLimit = data.fuelLimit;
    this.fuelUsed = data.fuelUsed;
  }

  toData(): OutOfFuelData {
    return { signal: this.name, ...this.context, fuelLimit: this.fuelLimit, fuelUsed: this.fuelUsed };
  }
}
