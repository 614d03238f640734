/**
 * `corral` command line. `corral run` runs the engine an engine.toml describes until SIGINT/SIGTERM;
 * `corral check` validates a configuration (or one component) without running anything; `corral call`
 * runs one export of any component under limits and prints one JSON line, for benchmark harnesses;
 * `corral inspect` shows a stopped engine's state (or a PostgreSQL store's, while it runs); `corral store
 * copy` moves a LevelDB state directory into PostgreSQL; `corral new` scaffolds a JavaScript module;
 * `corral replay` runs a recording again and prints the first difference; `corral batch` runs one export
 * once per line of a JSONL file, results in input order, resumable; `corral dev` runs an engine.toml with
 * its modules' sources watched, rebuilding and hot-swapping each changed module with its state kept;
 * `corral promote` makes a running engine's shadow candidate the module (through its read API).
 * Exit codes: 0 success, 2 a signal ended the call, 1 bad usage, a bad configuration or a component
 * that cannot be loaded, 130 a second signal forced `run` to stop. `corral replay`: 0 identical,
 * 1 a difference, 2 the recording or a component could not be replayed (so CI tells a regression
 * from a bad file).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
// Only what builds the program is imported here: each command imports its implementation (the runtime,
// viem, level, pg, jco…) when it runs, so `corral --help` loads commander and little else.
import { BATCH_DEFAULTS, DEFAULT_API, DEFAULT_FUEL, DEFAULT_MEMORY_BYTES, DEFAULT_POSTGRES, DEFAULT_TIMEOUT_MS } from '../limits/defaults.ts';
import type { BatchFlags } from './batchCommand.ts';
import type { CallFlags } from './callCommand.ts';
import { EXIT_OK, EXIT_USAGE, reportFailure } from './commandOutput.ts';
import { ArgumentError, jsonReplacer } from './jsonValues.ts';
import { terminalSafe, terminalSafeJson } from './terminalSafe.ts';

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

/** corral's own version: its package.json, two levels up from src/cli/ and dist/cli/ alike. */
function corralVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
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
      const { run } = await import('./runCommand.ts');
      code = await run(file, flags);
    });
  program
    .command('dev')
    .description('run an engine.toml with its modules\' sources watched: each change rebuilds and hot-swaps the changed modules, keeping their state and cursors; a failed build, an ungranted import or a signal in the first events keeps the previous version serving')
    .argument('[config]', 'the configuration file', 'engine.toml')
    .option('--json', 'pino JSON log lines on stdout, reloads among them')
    .option('--build <command>', 'the shell command that builds the modules (default: `npm run build` when package.json has a build script)')
    .option('--watch <dir>', 'a directory to watch instead of the engine.toml\'s (repeat for more)', collect, [])
    .addHelpText('after', '\nExamples:\n  corral dev                      # in a project `corral new` made\n  corral dev engine.toml --build "make wasm" --watch src')
    .action(async (file: string, flags: { json?: boolean; build?: string; watch: string[] }) => {
      const { dev } = await import('./devCommand.ts');
      code = await dev(file, { ...flags, ...(flags.watch.length > 0 ? {} : { watch: undefined }) });
    });
  program
    .command('check')
    .description('validate an engine.toml and its modules (or one component) without running anything; lists every problem')
    .argument('<target>', 'an engine.toml, or a component (.wasm)')
    .addHelpText('after', '\nExamples:\n  corral check engine.toml\n  corral check build/watcher.wasm')
    .action(async (target: string) => {
      const { check } = await import('./checkCommand.ts');
      code = await check(target);
    });
  program
    .command('inspect')
    .description('show what a store holds: modules, cursors per chain, breakers, keys and bytes; a LevelDB state directory (the engine must be stopped), or a PostgreSQL store with --store or an engine.toml\'s [store] (read while replicas run; adds each module\'s owner and epoch)')
    .argument('[target]', 'the engine\'s state directory (LevelDB), or an engine.toml (its [store], or its state_dir)')
    .option('--store <url>', 'a PostgreSQL store\'s url instead of a state directory (postgres://…): read-only, takes no lease')
    .option('--url <url>', 'a running engine\'s read API (http://host:port of engine.metrics, with [engine.api] enabled): the same report plus live fields')
    .option('--token-env <name>', 'the environment variable holding the read API\'s bearer token (with --url)', DEFAULT_API.tokenEnv)
    .option('--schema <name>', 'the PostgreSQL schema holding corral\'s tables', DEFAULT_POSTGRES.schema)
    .option('--module <name>', 'list this module\'s keys and values (base64, and UTF-8 and JSON where they decode), timers and tasks')
    .option('--prefix <p>', 'only keys starting with this (UTF-8)', '')
    .option('--limit <n>', 'at most this many keys', positiveInt('--limit'))
    .addHelpText('after', '\nExamples:\n  corral inspect ./state\n  corral inspect ./state --module twap --prefix order/\n  corral inspect engine.toml   # its [store], PostgreSQL or LevelDB\n  corral inspect --store "$DATABASE_URL" --module twap\n  corral inspect --url http://127.0.0.1:9464 --module twap   # a running engine, token in $CORRAL_API_TOKEN')
    .action(async (target: string | undefined, flags: { store?: string; url?: string; tokenEnv: string; schema: string; module?: string; prefix: string; limit?: number }) => {
      try {
        if ([target, flags.store, flags.url].filter((t) => t !== undefined).length !== 1) throw new ArgumentError('corral inspect takes a state directory, an engine.toml, --store <url> or --url <url> (one of them)');
        const { store, url, tokenEnv, schema, ...options } = flags;
        if (url !== undefined) {
          const { inspectUrl } = await import('./inspectUrl.ts');
          process.stdout.write(`${terminalSafeJson(JSON.stringify(await inspectUrl(url, { ...options, tokenEnv }), jsonReplacer, 2))}\n`);
          return;
        }
        const { inspectConfigured, inspectPostgres, inspectState } = await import('./inspect.ts');
        const report = store !== undefined ? await inspectPostgres({ url: store, schema }, options) : target!.endsWith('.toml') ? await inspectConfigured(target!, options) : await inspectState(target!, options);
        process.stdout.write(`${terminalSafeJson(JSON.stringify(report, jsonReplacer, 2))}\n`);
      } catch (error) {
        code = reportFailure(error);
      }
    });
  program
    .command('promote')
    .description('make a running engine\'s [modules.shadow] candidate the module (engine.promote: its `migrate` runs first when it has one; a failure leaves the earlier version serving), through the read API\'s admin route: [engine.api] enabled, asked from the engine\'s host with its token')
    .argument('<module>', 'the module whose shadow candidate is promoted')
    .argument('[config]', 'the engine.toml the engine runs: where its read API listens (engine.metrics) and its token_env', 'engine.toml')
    .option('--url <url>', 'the engine\'s metrics listener instead (http://127.0.0.1:port)')
    .option('--token-env <name>', `the environment variable holding the read API's bearer token (default: the engine.toml's token_env, else ${DEFAULT_API.tokenEnv})`)
    .addHelpText('after', '\nExamples:\n  corral promote twap                 # the engine engine.toml describes, token in $CORRAL_API_TOKEN\n  corral promote twap --url http://127.0.0.1:9464')
    .action(async (module: string, config: string, flags: { url?: string; tokenEnv?: string }) => {
      try {
        const { promote } = await import('./promoteCommand.ts');
        const done = await promote(module, config, flags);
        process.stdout.write(`${terminalSafe(done.module)}: the shadow candidate serves now${done.migrated ? ' (its migrate ran)' : ''}\n`);
      } catch (error) {
        code = reportFailure(error);
      }
    });
  program
    .command('store')
    .description('move state between stores')
    .command('copy')
    .description('copy a stopped engine\'s LevelDB state into a PostgreSQL store: every module\'s keys (jobs, timers, cron ticks, dead letters included), cursors (chain cursors; custom events are numbered anew by the table), undo journal, stored bytes and breaker; refuses, writing nothing, if the target already holds state for one of them')
    .argument('<state_dir>', 'the engine\'s state directory (the engine must be stopped)')
    .argument('<url>', 'the PostgreSQL store (postgres://…)')
    .option('--schema <name>', 'the PostgreSQL schema holding corral\'s tables', DEFAULT_POSTGRES.schema)
    .addHelpText('after', '\nExample:\n  corral store copy ./state "$DATABASE_URL"   # then set [store] backend = "postgres" in engine.toml')
    .action(async (dir: string, url: string, flags: { schema: string }) => {
      try {
        const { copyStore } = await import('./storeCopy.ts');
        for (const m of await copyStore(dir, { url, schema: flags.schema })) {
          process.stdout.write(`${terminalSafe(m.name)}: ${m.keys} key${m.keys === 1 ? '' : 's'} and ${m.reservedKeys} of corral's (jobs, timers, marks), cursors ${m.cursors.length ? m.cursors.map(terminalSafe).join(', ') : 'none'}, ${m.undoRecords} undo record${m.undoRecords === 1 ? '' : 's'}, ${m.storedBytes} stored bytes${m.breaker ? `, breaker ${m.breaker}` : ''}\n`);
        }
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
        const { retryDeadJob } = await import('./inspect.ts');
        const job = await retryDeadJob(dir, module, id);
        process.stdout.write(`${job.id} (${job.type}) is pending again\n`);
      } catch (error) {
        code = reportFailure(error);
      }
    });
  const deadLetters = program
    .command('dead-letters')
    .description('list or delete dead letters: tasks that failed past their retries, and messages whose receiver failed on them past their retries (the engine must be stopped)');
  deadLetters
    .command('list')
    .description('print the dead letters as JSON, per module that has any: tasks (each with its last error) and messages (sender, seq, payload, last signal)')
    .argument('<state_dir>', 'the engine\'s state directory')
    .option('--module <name>', 'only this module\'s (default: every module\'s)')
    .addHelpText('after', '\nExamples:\n  corral dead-letters list ./state\n  corral dead-letters list ./state --module twap')
    .action(async (dir: string, flags: { module?: string }) => {
      try {
        const { listDeadLetters } = await import('./deadLetters.ts');
        process.stdout.write(`${terminalSafeJson(JSON.stringify(await listDeadLetters(dir, flags), jsonReplacer, 2))}\n`);
      } catch (error) {
        code = reportFailure(error);
      }
    });
  deadLetters
    .command('purge')
    .description('delete dead letters (tasks and messages), giving their bytes back to each module\'s stored_bytes quota; a purged message is not delivered again')
    .argument('<state_dir>', 'the engine\'s state directory')
    .option('--module <name>', 'only this module\'s (default: every module\'s)')
    .option('--older-than-ms <ms>', 'only those dead for longer than this', positiveInt('--older-than-ms'))
    .addHelpText('after', '\nExamples:\n  corral dead-letters purge ./state\n  corral dead-letters purge ./state --module twap --older-than-ms 86400000')
    .action(async (dir: string, flags: { module?: string; olderThanMs?: number }) => {
      try {
        const { purgeDeadLetters } = await import('./deadLetters.ts');
        const purged = await purgeDeadLetters(dir, flags);
        for (const [module, n] of Object.entries(purged)) process.stdout.write(`${module}: ${n} dead letter${n === 1 ? '' : 's'} deleted\n`);
      } catch (error) {
        code = reportFailure(error);
      }
    });
  program
    .command('new')
    .description('scaffold a module in TypeScript (or --js): WIT world, source, esbuild + componentize-qjs build, engine.toml and a test that runs it in corral')
    .argument('<dir>', 'a new or empty directory; its name names the module unless --name')
    .option('--name <name>', 'the module (and WIT world) name: lower-case words joined by "-"')
    .option('--js', 'one plain JavaScript file (src/module.js), no bundler, rather than TypeScript')
    .addHelpText('after', '\nExamples:\n  corral new greeter && cd greeter && npm install && npm test\n  corral new modules/twap --name twap-monitor')
    .action(async (dir: string, flags: { name?: string; js?: boolean }) => {
      try {
        const { scaffoldModule } = await import('./scaffoldModule.ts');
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
      const { call } = await import('./callCommand.ts');
      code = await call(file, exportName, args, flags);
    });
  program
    .command('batch')
    .description('call one export once per line of a JSONL file (each line an array of arguments) under limits on all threads; one JSON line per input, in input order; resumable')
    .argument('<component>', 'path to a component (.wasm)')
    .argument('<export>', 'export to call: `add`, `call-slow`, or `iface.fn`')
    .requiredOption('--inputs <file>', 'JSON Lines: each line an array of the arguments, as `corral call` takes them')
    .option('--out <file>', 'write the results here (default: standard output); results that finish ahead wait in <file>.pending')
    .option('--resume', 'continue an interrupted run: keep every result in --out (and its .pending), run only the inputs without one')
    .option('--threads <n>', 'worker threads (default: the available parallelism)', positiveInt('--threads'))
    .option('--fuel <n>', 'fuel budget per input', positiveInt('--fuel'), DEFAULT_FUEL)
    .option('--timeout-ms <t>', 'wall-clock deadline per input, ms', positiveNumber('--timeout-ms'), DEFAULT_TIMEOUT_MS)
    .option('--memory-bytes <b>', 'cap on linear memory per instance, bytes', positiveInt('--memory-bytes'), DEFAULT_MEMORY_BYTES)
    .option('--in-flight <n>', `calls running at once (default: ${BATCH_DEFAULTS.inFlightPerThread} per thread)`, positiveInt('--in-flight'))
    .option('--deterministic', 'a fresh instance per input, fixed WASI clocks and seeded random, no wallMs in the lines: the same inputs give the same file')
    .addHelpText('after', '\nExamples:\n  corral batch build/score.wasm score --inputs cases.jsonl --out results.jsonl\n  corral batch build/score.wasm score --inputs cases.jsonl --out results.jsonl --resume   # after an interruption\n  corral batch build/score.wasm score --inputs cases.jsonl --deterministic > a.jsonl')
    .action(async (file: string, exportName: string, flags: BatchFlags) => {
      try {
        const { batch } = await import('./batchCommand.ts');
        await batch(file, exportName, flags);
      } catch (error) {
        code = reportFailure(error);
      }
    });
  program
    .command('replay')
    .description('run a recording again against its recorded host answers (no chain, network or store); print the first difference, exit 1 if any')
    .argument('<recording>', 'a file written by `corral call --record` or `corral run --record`')
    .option('--component <[name=]path>', 'replay against this component file instead of the recorded one (repeat per component)', collect, [])
    .addHelpText('after', '\nExamples:\n  corral replay incident.jsonl\n  corral replay incident.jsonl --component twap-monitor=build/twap-monitor.wasm')
    .action(async (file: string, flags: { component: string[] }) => {
      const { replayCommand } = await import('./replayCommand.ts');
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
