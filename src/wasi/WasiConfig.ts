/**
 * What a component's WASI host is given, as plain data: built on the main thread from `LoadOptions.wasi`
 * (see `resolveWasiConfig`) and handed to the worker with the component's descriptor.
 */
export interface WasiConfig {
  /** `wasi:cli/environment`: variables and arguments, empty unless the load options give them. */
  env: [string, string][];
  args: string[];
  /** Read-only preopened directories: the path the guest sees, and the real directory behind it. */
  dirs: { guestPath: string; hostPath: string }[];
  /** Fixed clocks and seeded random; null for the real clocks and the system's random. */
  deterministic: DeterministicConfig | null;
  /** Bytes of stdout and of stderr kept per call; what a guest writes past it is dropped and flagged. */
  outputBytes: number;
}

export interface DeterministicConfig {
  /** Seed of every invocation's random stream (a u64, as a decimal string: it crosses threads as data). */
  seed: string;
  /** Where both clocks start at the beginning of each invocation: wall-clock ms since the epoch. */
  startMs: number;
  /** How far the clock moves on each read of either clock, ns. */
  stepNs: number;
}

/** What a guest wrote to stdout and stderr during one call, decoded as UTF-8. */
export interface GuestOutput {
  stdout: string;
  stderr: string;
  /** True when either stream passed `outputBytes` and the rest was dropped. */
  truncated: boolean;
}
