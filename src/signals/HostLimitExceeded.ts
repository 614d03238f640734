import type { HostLimitName } from '../limits/hostCaps.ts';
import { RuntimeSignal, type InvocationContext } from './RuntimeSignal.ts';

export interface HostLimitExceededData extends InvocationContext {
  signal: 'HostLimitExceeded';
  limit: HostLimitName;
  max: number;
  observed: number;
}

/**
 * A module asked its host for more than its caps allow in one invocation (or its store outgrew its
 * quota). Same priority as a trap: fuel and the deadline win over it.
 */
export class HostLimitExceeded extends RuntimeSignal {
  override readonly name = 'HostLimitExceeded' as const;
  readonly limit: HostLimitName;
  readonly max: number;
  readonly observed: number;

  constructor(data: Omit<HostLimitExceededData, 'signal'>) {
    super(`${data.component}.${data.exportName} exceeded ${data.limit} (${data.observed} > ${data.max})`, data);
    this.limit = data.limit;
    this.max = data.max;
    this.observed = data.observed;
  }

  toData(): HostLimitExceededData {
    return { signal: this.name, ...this.context, limit: this.limit, max: this.max, observed: this.observed };
  }
}
