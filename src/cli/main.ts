/**
 * `corral` command line. `corral run` runs the engine an engine.toml describes until SIGINT/SIGTERM;
 * `corral check` validates a configuration (or one component) without running anything; `corral call`
 * runs one export of any component under limits and prints one JSON line, for benchmark harnesses;
 * `corral inspect` shows a stopped engine's state; `corral new` scaffolds a JavaScript module;
 * `corral replay` runs a recording again and prints the first difference.
 * Exit codes: 0 success, 2 a signal ended the call, 1 bad usage, a bad configuration or a component
 * that cannot be loaded, 130 a second signal forced `run` to stop. `corral replay`: 0 identical,
 * 1 a difference, 2 the recording or a component could not be replayed (so CI tells a regression
 * from a bad file).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../config/loadConfig.ts';
import { startConfigured } from '../app/startConfigured.ts';
import { checkCapabilities, MODULE_INTERFACES, type InterfaceName } from '../engine/ModuleManifest.ts';
import { parseManifest } from '../config/ModuleManifestSchema.ts';
import { ConfigError, describeProblem } from '../errors/ConfigError.ts';
import { CorralError } from '../errors/CorralError.ts';
import { DEFAULT_FUEL, DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT_MS, MAX_RECORDING_BYTES, MAX_TIMER_DELAY_MS } from '../limits/defaults.ts';
import { FileRefused, readBoundedFile } from '../config/readBoundedFile.ts';
import { ReplayError } from '../replay/ReplayError.ts';
import { Runtime } from '../runtime/Runtime.ts';
import type { WasiOptions } from '../wasi/resolveWasiConfig.ts';
import { Recorder } from '../replay/Recorder.ts';
import { decodeRecording } from '../replay/Recording.ts';
import { replay } from '../replay/replay.ts';
import { inspectState, retryDeadJob } from './inspect.ts';
import { purgeDeadLetters } from './deadLetters.ts';
import { renderStatus } from './status.ts';
import { terminalSafe, terminalSafeJson } from './terminalSafe.ts';
import { scaffoldModule } from './scaffoldModule.ts';
import { ArgumentError, argsFromJson, jsonReplacer } from './jsonValues.ts';

const EXIT_OK = 0;
const EXIT_USAGE = 1;
const EXIT_SIGNAL = 2;
const EXIT_FORCED = 130;
const EXIT_REPLAY_DIFFERS = 1;
const EXIT_REPLAY_FAILED = 2;

/**
 * Runs the engine until SIGINT/SIGTERM, then stops it gracefully; a second signal forces the exit. On a
 * terminal (unless `--json`) it draws a live status and writes the logs to `<state_dir>/corral.log`;
 * otherwise the logs are pino JSON lines on stdout.
 */
async function run(file: string, flags: { json?: boolean; record?: string }): Promise<number> {
  const live = process.stdout.isTTY === true && !flags.json;
  // Signals are heard from the start: one during start-up stops the engine as soon as it is up.
  let signalled: NodeJS.Signals | undefined;
  let onSignal: ((signal: NodeJS.Signals) => void) | undefined;
  const listener = (signal: NodeJS.Signals) => {
    if (signalled) return force(signal);
    signalled = signal;
    onSignal?.(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  let stopAnvils: () => void = () => {};
  const force = (signal: NodeJS.Signals) => {
    process.stderr.write(`corral: ${signal} again: forced to stop\n`);
    stopAnvils();
    process.exit(EXIT_FORCED);
  };
  let configured;
  let stopRecording: () => Promise<void> = () => Promise.resolve();
  const warnings: string[] = [];
  let logFile = '';
  let chains: string[] = [];
  try {
    const { config } = await loadConfig(file);
    chains = Object.keys(config.chains);
    let logger: Logger | undefined;
    if (live) {
      logFile = join(config.engine.stateDir, 'corral.log');
      const recent = new Writable({
        write(chunk: Buffer, _encoding, done) {
          const record = JSON.parse(chunk.toString()) as { time?: number; msg?: string; module?: string; err?: { message?: string } };
          warnings.push(`${new Date(record.time ?? Date.now()).toISOString().slice(11, 19)} ${record.module ? `${record.module}: ` : ''}${record.msg ?? ''}${record.err?.message ? ` (${record.err.message})` : ''}`);
          if (warnings.length > 5) warnings.shift();
          done();
        },
      });
      const level = config.engine.logLevel;
      logger = pino({ name: 'corral', level }, pino.multistream([{ level: level === 'silent' ? 'fatal' : level, stream: pino.destination({ dest: logFile, mkdir: true, sync: false }) }, { level: 'warn', stream: recent }]));
    }
    // A recording is appended as the engine runs; it is closed once the engine has stopped.
    const record = flags.record ? new Recorder({ file: flags.record }) : undefined;
    configured = await startConfigured(config, { ...(logger ? { logger } : {}), ...(record ? { record } : {}) });
    stopRecording = () => record?.close() ?? Promise.resolve();
  } catch (error) {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
    return reportFailure(error);
  }
  const anvils = Object.values(configured.anvils);
  stopAnvils = () => anvils.forEach((a) => a.kill());
  const { engine, logger } = configured;
  const startedAt = Date.now();
  // On PostgreSQL, who owns what is read from the store between draws (a draw itself never waits).
  let ownership: Awaited<ReturnType<typeof engine.ownership>> | undefined;
  const draw = () => {
    if (engine.replica()) void engine.ownership().then((o) => (ownership = o), () => undefined);
    process.stdout.write(
      `\x1b[H\x1b[2J${renderStatus(engine, { config: file, startedAt, now: Date.now(), anvils: Object.fromEntries(Object.entries(configured.anvils).map(([id, a]) => [id, a.url])), logFile, warnings, metricsUrl: configured.metrics?.url, ownership })}`,
    );
  };
  const redraw = live ? setInterval(draw, 1_000) : undefined;
  if (live) draw();
  logger.info({ modules: [...engine.actors().map((a) => a.name)], chains }, 'engine running');
  // A signal listener does not keep Node's event loop alive: with no chain, cron or timer to hold it,
  // the wait below would be an unsettled top-level await and Node would exit with code 13 at once.
  // The engine still serves custom events and metrics, so the process stays until a signal.
  const keepAlive = setInterval(() => {}, MAX_TIMER_DELAY_MS);
  const signal = signalled ?? (await new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve)));
  clearInterval(keepAlive);
  logger.info({ signal }, 'stopping: intake closed, in-flight events finish or are cancelled, then the database closes (a second signal forces)');
  await configured.stop(); // a second signal exits from `force` meanwhile
  await stopRecording();
  logger.info({ code: EXIT_OK }, 'stopped');
  if (redraw) {
    clearInterval(redraw);
    process.stdout.write('stopped\n');
  }
  process.off('SIGINT', listener);
  process.off('SIGTERM', listener);
  return EXIT_OK;
}

/** Validates an engine.toml (and its modules' components against their grants), or one component. */
async function check(file: string): Promise<number> {
  const runtime = new Runtime({ threads: 1 });
  const problems: string[] = [];
  try {
    if (file.endsWith('.wasm')) {
      // Against corral's world alone: a manifest granting every interface of it.
      const meta = await runtime.inspect(file);
      const grants = Object.fromEntries((Object.keys(MODULE_INTERFACES) as InterfaceName[]).map((name) => [name, name === 'http' ? { hosts: [] } : name === 'chain' || name === 'cowApi' ? { chains: [] } : true]));
      const everything = parseManifest({ name: 'component', component: file, grants });
      checkCapabilities(everything, meta.imports, meta.exports.map(([n]) => n));
    } else {
      const { config } = await loadConfig(file);
      for (const [i, manifest] of config.modules.entries()) {
        try {
          const meta = await runtime.inspect(manifest.component, manifest.name);
          checkCapabilities(manifest, meta.imports, meta.exports.map(([n]) => n));
        } catch (error) {
          problems.push(`${file} modules[${i}] (${manifest.name}): ${(error as Error).message}`);
        }
      }
    }
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.details.problems.map(describeProblem));
    else if (error instanceof CorralError) problems.push(`${file}: ${error.message}`);
    else throw error;
  } finally {
    await runtime.close();
  }
  for (const line of problems) process.stderr.write(`${terminalSafe(line)}\n`);
  if (problems.length > 0) {
    process.stderr.write(`corral check: ${problems.length} problem${problems.length > 1 ? 's' : ''}\n`);
    return EXIT_USAGE;
  }
  process.stdout.write(`${file}: ok\n`);
  return EXIT_OK;
}

function reportFailure(error: unknown): number {
  if (error instanceof ConfigError) {
    for (const problem of error.details.problems) process.stderr.write(`corral: ${terminalSafe(describeProblem(problem))}\n`);
    return EXIT_USAGE;
  }
  process.stderr.write(`corral: ${terminalSafe(error instanceof Error ? error.message : String(error))}\n`);
  return EXIT_USAGE;
}

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

async function call(file: string, exportName: string, rawArgs: string[], flags: CallFlags): Promise<number> {
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
    let lastOutput = {};
    for (let i = 0; i < flags.repeat; i++) {
      const outcome = await component.invoke(exportName, args);
      // What a WASI guest wrote: `stdout` and `stderr` fields of the line (absent when it wrote nothing).
      const output = outcome.output ? { stdout: outcome.output.stdout, stderr: outcome.output.stderr, ...(outcome.output.truncated ? { outputTruncated: true } : {}) } : {};
      if (!outcome.ok) {
        print({ ok: false, ...outcome.signal.toData(), durationMs: outcome.durationMs, ...output, ...(flags.repeat > 1 ? { iteration: i + 1 } : {}) });
        return EXIT_SIGNAL;
      }
      lastOutput = output;
      durations.push(outcome.durationMs);
      fuel.push(outcome.fuelUsed);
      last = outcome.value;
    }
    const result: Record<string, unknown> = { ok: true, value: last, fuelUsed: fuel.at(-1), durationMs: durations.at(-1), ...lastOutput };
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

/**
 * `corral replay`: runs a recording again (see src/replay/replay.ts) and prints one JSON line: the
 * counts and `identical`, or the first difference. Exit 0 when identical, 1 when not (or unusable input).
 */
async function replayCommand(file: string, flags: { component: string[] }): Promise<number> {
  const runtime = new Runtime({ threads: 1 });
  try {
    let text: string;
    try {
      text = (await readBoundedFile(file, MAX_RECORDING_BYTES)).toString('utf8');
    } catch (cause) {
      if (!(cause instanceof FileRefused)) throw cause;
      throw new ReplayError('recording-refused', `cannot replay ${file}: ${cause.message}`, { source: file, reason: cause.reason }, cause);
    }
    const recording = decodeRecording(text, file);
    const names = Object.keys(recording.components);
    const components: Record<string, string> = {};
    for (const spec of flags.component) {
      const at = spec.indexOf('=');
      // `name=path`; a bare path stands for the recording's only component.
      if (at > 0) components[spec.slice(0, at)] = spec.slice(at + 1);
      else if (names.length === 1) components[names[0]!] = spec;
      else throw new ArgumentError(`--component ${spec}: the recording has components ${names.join(', ')}; write NAME=PATH`);
    }
    const report = await replay(recording, runtime, { components });
    print({ ok: report.identical, ...report });
    return report.identical ? EXIT_OK : EXIT_REPLAY_DIFFERS;
  } catch (error) {
    reportFailure(error);
    return EXIT_REPLAY_FAILED;
  } finally {
    await runtime.close();
  }
}

/** corral's own version: its package.json, two levels up from src/cli/ and dist/cli/ alike. */
function corralVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function print(value: unknown): void {
  process.stdout.write(`${terminalSafeJson(JSON.stringify(value, jsonReplacer))}\n`);
}

export async function main(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  const program = new Command('corral')
    .description('Run WebAssembly components as metered, supervised actors')
    .version(corralVersion(), '-V, --version', 'the version of this corral')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program
    .command('run')
    .description('run the engine an engine.toml describes, until SIGINT or SIGTERM (a second one forces)')
    .argument('[config]', 'the configuration file', 'engine.toml')
    .option('--json', 'pino JSON log lines on stdout, no live status (the default when stdout is not a terminal)')
    .option('--record <file>', 'record every invocation of every module (JSON Lines, appended as it runs) for `corral replay`')
    .addHelpText('after', '\nExamples:\n  corral run\n  corral run deploy/engine.toml\n  LOG_LEVEL=debug corral run   # with log_level = "${LOG_LEVEL}" in the file')
    .action(async (file: string, flags: { json?: boolean; record?: string }) => {
      code = await run(file, flags);
    });
  program
    .command('check')
    .description('validate an engine.toml and its modules (or one component) without running anything; lists every problem')
    .argument('<target>', 'an engine.toml, or a component (.wasm)')
    .addHelpText('after', '\nExamples:\n  corral check engine.toml\n  corral check build/watcher.wasm')
    .action(async (target: string) => {
      code = await check(target);
    });
  program
    .command('inspect')
    .description('show what a state directory holds: modules, cursors per chain, breakers, keys and bytes (the engine must be stopped)')
    .argument('<state_dir>', 'the engine\'s state directory')
    .option('--module <name>', 'list this module\'s keys and values (hex, and UTF-8 where valid)')
    .option('--prefix <p>', 'only keys starting with this (UTF-8)', '')
    .option('--limit <n>', 'at most this many keys', positiveInt('--limit'))
    .addHelpText('after', '\nExamples:\n  corral inspect ./state\n  corral inspect ./state --module twap --prefix order/')
    .action(async (dir: string, flags: { module?: string; prefix: string; limit?: number }) => {
      try {
        process.stdout.write(`${terminalSafeJson(JSON.stringify(await inspectState(dir, flags), jsonReplacer, 2))}\n`);
      } catch (error) {
        code = reportFailure(error);
      }
    });
  program
    .command('retry-job')
    .description('make a dead-lettered task pending again, its retries reset (the engine must be stopped; it runs the task when it starts)')
    .argument('<state_dir>', 'the engine\'s state directory')
    .argument('<module>', 'the module whose task it is')
    .argument('<job_id>', 'the task\'s id, as `corral inspect <state_dir> --module <module>` lists it under jobs.dead')
    .addHelpText('after', '\nExample:\n  corral retry-job ./state twap 00mhx2k1c-4f0a9b1c2d3e')
    .action(async (dir: string, module: string, id: string) => {
      try {
        const job = await retryDeadJob(dir, module, id);
        process.stdout.write(`${job.id} (${job.type}) is pending again\n`);
      } catch (error) {
        code = reportFailure(error);
      }
    });
  program
    .command('dead-letters')
    .description('manage dead-lettered tasks (the engine must be stopped; `corral inspect <state_dir> --module <m>` lists them)')
    .command('purge')
    .description('delete dead-lettered tasks, giving their bytes back to each module\'s stored_bytes quota')
    .argument('<state_dir>', 'the engine\'s state directory')
    .option('--module <name>', 'only this module\'s (default: every module\'s)')
    .option('--older-than-ms <ms>', 'only those dead for longer than this', positiveInt('--older-than-ms'))
    .addHelpText('after', '\nExamples:\n  corral dead-letters purge ./state\n  corral dead-letters purge ./state --module twap --older-than-ms 86400000')
    .action(async (dir: string, flags: { module?: string; olderThanMs?: number }) => {
      try {
        const purged = await purgeDeadLetters(dir, flags);
        for (const [module, n] of Object.entries(purged)) process.stdout.write(`${module}: ${n} dead letter${n === 1 ? '' : 's'} deleted\n`);
      } catch (error) {
        code = reportFailure(error);
      }
    });
  program
    .command('new')
    .description('scaffold a JavaScript module: WIT world, source, componentize-qjs build, engine.toml and a test that runs it in corral')
    .argument('<dir>', 'a new or empty directory; its name names the module unless --name')
    .option('--name <name>', 'the module (and WIT world) name: lower-case words joined by "-"')
    .addHelpText('after', '\nExamples:\n  corral new greeter && cd greeter && npm install && npm test\n  corral new modules/twap --name twap-monitor')
    .action(async (dir: string, flags: { name?: string }) => {
      try {
        const made = await scaffoldModule(dir, flags);
        process.stdout.write(`created module ${made.name} in ${made.dir}:\n${made.files.map((f) => `  ${f}`).join('\n')}\nnext: cd ${dir} && npm install && npm test\n`);
      } catch (error) {
        code = reportFailure(error);
      }
    });
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
    .option('--env <name=value>', 'a WASI environment variable (repeat for more)', collect, [])
    .option('--dir <host[::guest]>', 'a directory the WASI guest may read, at the path guest (default: host as given); repeat for more', collect, [])
    .option('--deterministic', 'fixed WASI clocks and seeded random: the same call gives the same result and fuel')
    .option('--record <file>', 'record the call (arguments, host and WASI answers, outcome) for `corral replay`')
    .option('--seed <n>', 'seed of --deterministic random, an integer ≥ 0 (implies it)', (text: string) => {
      const n = Number(text);
      if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('--seed must be an integer ≥ 0');
      return n;
    })
    .action(async (file: string, exportName: string, args: string[], flags: CallFlags) => {
      code = await call(file, exportName, args, flags);
    });
  program
    .command('replay')
    .description('run a recording again against its recorded host answers (no chain, network or store); print the first difference, exit 1 if any')
    .argument('<recording>', 'a file written by `corral call --record` or `corral run --record`')
    .option('--component <[name=]path>', 'replay against this component file instead of the recorded one (repeat per component)', collect, [])
    .addHelpText('after', '\nExamples:\n  corral replay incident.jsonl\n  corral replay incident.jsonl --component twap-monitor=build/twap-monitor.wasm')
    .action(async (file: string, flags: { component: string[] }) => {
      code = await replayCommand(file, flags);
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE; // --help, --version; bad usage
    // Anything else is a failure of the command itself: say what it was.
    const text = error instanceof Error ? ((process.env.CORRAL_DEBUG ? error.stack : error.message) ?? '') : String(error);
    process.stderr.write(`corral: ${text.split('\n').map(terminalSafe).join('\n')}\n`);
    return EXIT_USAGE;
  }
  return code;
}
