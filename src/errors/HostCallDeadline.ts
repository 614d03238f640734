/**
 * Thrown inside the guest when waiting for the host would pass the invocation's deadline. Here, below
 * the runtime, because both the worker's call slot and the WASI host's clocks (a blocking poll) throw it.
 */
export class HostCallDeadline extends Error {
  override readonly name = 'HostCallDeadline';
}
