/**
 * Thrown by a host function to return `err(payload)` to the guest, for imports whose WIT result is a
 * `result<_, E>`: a refusal the guest sees as a value, not a trap. Here, below the runtime, because
 * host implementations (host/), the call slot (runtime/) and the replay recorder all throw or read it.
 */
export class HostFault extends Error {
  override readonly name = 'HostFault';
  constructor(readonly payload: unknown) {
    super(`host function returned an error: ${JSON.stringify(payload, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  }
}
