import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { CorralRuntimeError } from '../errors/RuntimeError.ts';
import { DEFAULT_DETERMINISTIC_SEED, DEFAULT_DETERMINISTIC_START_MS, DEFAULT_DETERMINISTIC_STEP_NS, DEFAULT_WASI_OUTPUT_BYTES } from '../limits/defaults.ts';
import { CAN_CONFINE_DIRECTORIES } from './filesystem.ts';
import type { WasiConfig } from './WasiConfig.ts';

/** Options of `LoadOptions.wasi`: what a WASI guest may see beyond pure computation. */
export interface WasiOptions {
  /** Environment variables (`wasi:cli/environment`). Default: none. */
  env?: Record<string, string>;
  /** Arguments (`wasi:cli/environment`). Default: none. */
  args?: string[];
  /** Read-only preopened directories: the path the guest sees → the directory on this machine. Default: none. */
  dirs?: Record<string, string>;
  /**
   * Fixed clocks and seeded random, so two runs give identical results and fuel (see WasiConfig).
   * `true` takes the defaults: seed 0, start 2025-01-01T00:00:00Z, 1 µs per clock read.
   */
  deterministic?: boolean | { seed?: number | bigint; startMs?: number; stepNs?: number };
  /** Bytes of stdout and stderr (together) kept per call. Default `DEFAULT_WASI_OUTPUT_BYTES`. */
  outputBytes?: number;
}

/** `LoadOptions.wasi` checked and made into the data the worker's WASI host is built from. */
export function resolveWasiConfig(options: WasiOptions = {}, component: string): WasiConfig {
  const invalid = (option: string, message: string, value: unknown) =>
    new CorralRuntimeError('invalid-option', `wasi.${option} of ${component} ${message}`, { option: `wasi.${option}`, component, value });
  const env = Object.entries(options.env ?? {});
  for (const [k, v] of env) if (typeof v !== 'string' || k.includes('=')) throw invalid('env', `must map names without '=' to strings (${k})`, v);
  const args = options.args ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw invalid('args', 'must be a list of strings', args);
  const dirs = Object.entries(options.dirs ?? {}).map(([guestPath, hostPath]) => {
    if (typeof hostPath !== 'string' || hostPath === '') throw invalid('dirs', `must map guest paths to directories (${guestPath})`, hostPath);
    if (!CAN_CONFINE_DIRECTORIES) throw invalid('dirs', 'cannot be granted on this system: confinement reads /proc/self/fd (Linux)', hostPath);
    const full = resolve(hostPath);
    let isDirectory = false;
    try {
      isDirectory = statSync(full).isDirectory();
    } catch {
      // reported below
    }
    if (!isDirectory) throw invalid('dirs', `names ${full} for ${guestPath}, which is not a directory`, hostPath);
    // Its real path, once: every descriptor the guest opens is checked against it.
    return { guestPath, hostPath: realpathSync(full) };
  });
  const outputBytes = options.outputBytes ?? DEFAULT_WASI_OUTPUT_BYTES;
  if (!Number.isSafeInteger(outputBytes) || outputBytes < 0) throw invalid('outputBytes', 'must be a non-negative integer', outputBytes);
  let deterministic: WasiConfig['deterministic'] = null;
  if (options.deterministic) {
    const given = options.deterministic === true ? {} : options.deterministic;
    const rawSeed = given.seed ?? DEFAULT_DETERMINISTIC_SEED;
    if (typeof rawSeed !== 'bigint' && !Number.isSafeInteger(rawSeed)) throw invalid('deterministic.seed', 'must be an integer (or a bigint)', rawSeed);
    const seed = BigInt.asUintN(64, BigInt(rawSeed));
    const startMs = given.startMs ?? DEFAULT_DETERMINISTIC_START_MS;
    const stepNs = given.stepNs ?? DEFAULT_DETERMINISTIC_STEP_NS;
    if (!Number.isSafeInteger(startMs) || startMs < 0) throw invalid('deterministic.startMs', 'must be a non-negative integer', startMs);
    if (!Number.isSafeInteger(stepNs) || stepNs < 1 || stepNs >= 1e9) throw invalid('deterministic.stepNs', 'must be an integer from 1 to 999,999,999 (ns)', stepNs);
    deterministic = { seed: seed.toString(), startMs, stepNs };
  }
  return { env, args: [...args], dirs, deterministic, outputBytes };
}
