import type { HostLimitName } from '../limits/hostCaps.ts';

/**
 * Thrown by a host function when a cap trips: the invocation ends with `HostLimitExceeded`. Here, below
 * the runtime, because host implementations (host/), the call slot (runtime/) and replay all use it.
 */
export class HostLimitError extends Error {
  override readonly name = 'HostLimitExceeded';
  constructor(
    readonly limit: HostLimitName,
    readonly max: number,
    readonly observed: number,
  ) {
    super(`${limit} exceeded: ${observed} > ${max}`);
  }
}
