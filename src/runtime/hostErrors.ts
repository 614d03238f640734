import type { HostLimitName } from '../limits/hostCaps.ts';

/**
 * Thrown by a host function to return `err(payload)` to the guest, for imports whose WIT result is a
 * `result<_, E>`: a refusal the guest sees as a value, not a trap.
 */
export class HostFault extends Error {
  override readonly name = 'HostFault';
  constructor(readonly payload: unknown) {
    super(`host function returned an error: ${JSON.stringify(payload, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  }
}

/** Thrown by a host function when a cap trips: the invocation ends with `HostLimitExceeded`. */
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
