/** `corral call`: one export of any component under limits, one JSON line out (imported when the command runs). */
import { CorralError } from '../errors/CorralError.ts';
import { Runtime } from '../runtime/Runtime.ts';
import type { WasiOptions } from '../wasi/resolveWasiConfig.ts';
import { Recorder } from '../replay/Recorder.ts';
import { terminalSafe } from './terminalSafe.ts';
import { ArgumentError, argsFromJson } from './jsonValues.ts';
import { EXIT_OK, EXIT_SIGNAL, EXIT_USAGE, print } from './commandOutput.ts';

export interface CallFlags {
  fuel: number;
  timeoutMs: number;
  memoryMb: number;
  repeat: number;
  env: string[];
  dir: string[];
  deterministic?: boolean;
  seed?: number;
  record?: string;
}

/** `--env K=V` and `--dir HOST[::GUEST]` as `LoadOptions.wasi`; a malformed one is an ArgumentError. */
function wasiFromFlags(flags: CallFlags): WasiOptions {
  const env: Record<string, string> = {};
  for (const pair of flags.env) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new ArgumentError(`--env takes NAME=VALUE, got \`${pair}\``);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const dirs: Record<string, string> = {};
  for (const spec of flags.dir) {
    const [host, guest = host] = spec.split('::') as [string, string | undefined];
    dirs[guest] = host;
  }
  const deterministic = flags.deterministic || flags.seed !== undefined ? { seed: flags.seed ?? 0 } : undefined;
  return { env, dirs, ...(deterministic ? { deterministic } : {}) };
}

export async function call(file: string, exportName: string, rawArgs: string[], flags: CallFlags): Promise<number> {
  const runtime = new Runtime({ threads: 1 });
  const recorder = flags.record ? new Recorder({ file: flags.record }) : undefined;
  try {
    const component = await runtime.load(file, {
      limits: { fuel: flags.fuel, timeoutMs: flags.timeoutMs, memoryBytes: Math.round(flags.memoryMb * 1024 * 1024) },
      wasi: wasiFromFlags(flags),
      ...(recorder ? { record: recorder } : {}),
    });
    const target = component.resolveExport(exportName);
    const args = argsFromJson(rawArgs, target.signature, exportName);
    const durations: number[] = [];
    const fuel: number[] = [];
    let last: unknown;
    let lastMemory: number | undefined;
    let lastOutput = {};
    for (let i = 0; i < flags.repeat; i++) {
      const outcome = await component.invoke(exportName, args);
      // What a WASI guest wrote: `stdout` and `stderr` fields of the line (absent when it wrote nothing).
      const output = outcome.output ? { stdout: outcome.output.stdout, stderr: outcome.output.stderr, ...(outcome.output.truncated ? { outputTruncated: true } : {}) } : {};
      if (!outcome.ok) {
        print({ ok: false, ...outcome.signal.toData(), durationMs: outcome.durationMs, ...(outcome.memoryBytes !== undefined ? { memoryBytes: outcome.memoryBytes } : {}), ...output, ...(flags.repeat > 1 ? { iteration: i + 1 } : {}) });
        return EXIT_SIGNAL;
      }
      lastOutput = output;
      durations.push(outcome.durationMs);
      fuel.push(outcome.fuelUsed);
      last = outcome.value;
      lastMemory = outcome.memoryBytes;
    }
    // memoryBytes: the instance's memory after the last call; with --repeat the instance is reused, so its high-water mark.
    const result: Record<string, unknown> = { ok: true, value: last, fuelUsed: fuel.at(-1), durationMs: durations.at(-1), memoryBytes: lastMemory, ...lastOutput };
    if (flags.repeat > 1) {
      const sorted = [...durations].sort((a, b) => a - b);
      Object.assign(result, {
        repeat: flags.repeat,
        p50Ms: percentile(sorted, 0.5),
        p99Ms: percentile(sorted, 0.99),
        fuelUsedMin: Math.min(...fuel),
        fuelUsedMax: Math.max(...fuel),
      });
    }
    print(result);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CorralError || error instanceof ArgumentError || error instanceof RangeError) {
      process.stderr.write(`corral: ${terminalSafe(error.message)}\n`);
      return EXIT_USAGE;
    }
    throw error;
  } finally {
    await recorder?.close();
    await runtime.close();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}
