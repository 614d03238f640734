/**
 * `corral` command line. `corral call` runs one export of any component under limits and prints one
 * JSON line, for benchmark harnesses and quick checks.
 * Exit codes: 0 success, 2 a signal ended the call, 1 bad usage or a component that cannot be loaded.
 */
import { Command, InvalidArgumentError } from 'commander';
import { CorralError } from '../errors/CorralError.ts';
import { DEFAULT_FUEL, DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT_MS } from '../limits/defaults.ts';
import { Runtime } from '../runtime/Runtime.ts';
import { ArgumentError, argsFromJson, jsonReplacer } from './jsonValues.ts';

const EXIT_OK = 0;
const EXIT_USAGE = 1;
const EXIT_SIGNAL = 2;

function positiveInt(what: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive integer`);
    return n;
  };
}

function positiveNumber(what: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number`);
    return n;
  };
}

interface CallFlags {
  fuel: number;
  timeoutMs: number;
  memoryMb: number;
  repeat: number;
}

async function call(file: string, exportName: string, rawArgs: string[], flags: CallFlags): Promise<number> {
  const runtime = new Runtime({ threads: 1 });
  try {
    const component = await runtime.load(file, {
      limits: { fuel: flags.fuel, timeoutMs: flags.timeoutMs, memoryBytes: Math.round(flags.memoryMb * 1024 * 1024) },
    });
    const target = component.resolveExport(exportName);
    const args = argsFromJson(rawArgs, target.signature, exportName);
    const durations: number[] = [];
    const fuel: number[] = [];
    let last: unknown;
    for (let i = 0; i < flags.repeat; i++) {
      const outcome = await component.invoke(exportName, args);
      if (!outcome.ok) {
        print({ ok: false, ...outcome.signal.toData(), durationMs: outcome.durationMs, ...(flags.repeat > 1 ? { iteration: i + 1 } : {}) });
        return EXIT_SIGNAL;
      }
      durations.push(outcome.durationMs);
      fuel.push(outcome.fuelUsed);
      last = outcome.value;
    }
    const result: Record<string, unknown> = { ok: true, value: last, fuelUsed: fuel.at(-1), durationMs: durations.at(-1) };
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
      process.stderr.write(`corral: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  } finally {
    await runtime.close();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonReplacer)}\n`);
}

export async function main(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  const program = new Command('corral')
    .description('Run WebAssembly components as metered, supervised actors')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program
    .command('call')
    .description('call one export of a component under limits and print one JSON line')
    .argument('<component>', 'path to a component (.wasm)')
    .argument('<export>', 'export to call: `add`, `call-slow`, or `iface.fn`')
    .argument('[args...]', 'arguments as JSON values (a bare word is a string)')
    .option('--fuel <n>', 'fuel budget per call', positiveInt('--fuel'), DEFAULT_FUEL)
    .option('--timeout-ms <t>', 'wall-clock deadline per call, ms', positiveNumber('--timeout-ms'), DEFAULT_TIMEOUT_MS)
    .option('--memory-mb <m>', 'cap on linear memory, MiB', positiveNumber('--memory-mb'), DEFAULT_MEMORY_BYTES / 1024 / 1024)
    .option('--repeat <k>', 'call K times; adds p50/p99 duration and min/max fuel', positiveInt('--repeat'), 1)
    .action(async (file: string, exportName: string, args: string[], flags: CallFlags) => {
      code = await call(file, exportName, args, flags);
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    const exitCode = (error as { exitCode?: number }).exitCode;
    // --help and --version exit 0; every other parse error is bad usage.
    return exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  return code;
}
