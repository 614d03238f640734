import type { WasiConfig } from './WasiConfig.ts';
import type { WasiHostError } from './WasiHostError.ts';

/**
 * What the WASI interface files (cli, clocks, filesystem, io, random) use of the host that binds them:
 * `WasiHost` implements it and hands itself in. An interface here, below them, so that they do not
 * import WasiHost.ts, which imports them.
 */
export interface WasiContext {
  readonly config: WasiConfig;
  /** The invocation's clocks (see Clocks in clocks.ts): pollables sleep on them. */
  readonly clocks: {
    monotonicNow(advance?: boolean): bigint;
    wallNow(): { seconds: bigint; nanoseconds: number };
    sleepUntil(due: bigint, fn: string): void;
  };
  /** Where stdout and stderr go (captured up to the output cap). */
  readonly output: { write(stream: 'stdout' | 'stderr', bytes: Uint8Array): void };
  /** Host file descriptors open for this component in this worker (see WASI_MAX_OPEN_DESCRIPTORS). */
  readonly openDescriptors: { count: number };
  /** True while a recording is being replayed. */
  readonly replaying: boolean;
  /** A world-dependent answer: asked, recorded or replayed (see WasiHost.journaled). */
  journaled<T>(fn: string, args: unknown[], ask: () => T): T;
  /** A requested length as a number, refused when larger than the memory cap. */
  checkedLength(len: bigint, fn: string): number;
  /** A requested read length, clamped. */
  chunkLength(len: bigint): number;
  invalid(fn: string, message: string): WasiHostError;
}
