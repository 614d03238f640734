/**
 * What the in-worker WASI host throws when a guest asks for something it may not have (outgoing HTTP
 * without a grant) or cannot be given (more random bytes than its memory cap). The worker turns it into
 * `Trap { code: 'host-error' }` with `hostError.name` set to `name`, and the function named.
 */
export class WasiHostError extends Error {
  constructor(
    override readonly name: 'WasiNotGranted' | 'WasiInvalidRequest' | 'WasiReplayDiverged' | 'WasiResourceLimit',
    readonly fn: string,
    message: string,
  ) {
    super(`${fn}: ${message}`);
  }
}

/** `wasi:cli/exit`: unwinds the guest; the worker ends the call (status 0: success without a value). */
export class WasiExit extends Error {
  constructor(readonly status: number) {
    super(`the guest exited with status ${status}`);
  }
}
