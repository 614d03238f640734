/** `corral dev` (imported when the command runs: it loads the whole engine). */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { startConfigured, type ConfiguredEngine } from '../app/startConfigured.ts';
import { loadConfig } from '../config/loadConfig.ts';
import type { ResolvedEngineConfig } from '../config/EngineConfig.ts';
import type { CapabilityDiff, ProbationEnd } from '../engine/Engine.ts';
import { CorralError } from '../errors/CorralError.ts';
import { DEV_DEBOUNCE_MS, MAX_TIMER_DELAY_MS } from '../limits/defaults.ts';
import { EXIT_OK, reportFailure } from './commandOutput.ts';
import { ArgumentError } from './jsonValues.ts';
import { terminalSafe } from './terminalSafe.ts';

export interface DevFlags {
  json?: boolean;
  /** A shell command that builds the project (default: `npm run build` when package.json has a build script). */
  build?: string;
  /** Directories to watch instead of the project's (the engine.toml's directory). */
  watch?: string[];
}

/** Directories never watched: dependencies, version control, and what builds and runs write. */
const UNWATCHED = new Set(['node_modules', '.git']);

/** What a build left: the command's exit code, how long it took, and the end of its output. */
interface Build {
  ok: boolean;
  ms: number;
  output: string;
}

/**
 * Runs the engine an engine.toml describes with its modules' sources watched: each change (after
 * DEV_DEBOUNCE_MS of quiet) runs the build, one at a time, and every module whose component file
 * changed is swapped in the running engine (`engine.replace`) from the same state and cursors. A
 * failed build, a refused swap or a signal in the new version's first events leaves the previous
 * version serving. Lines typed on stdin, `<topic> <payload>`, are published as custom events.
 */
export async function dev(file: string, flags: DevFlags): Promise<number> {
  const configFile = resolve(file);
  const project = dirname(configFile);
  let out: Output | undefined;
  let configured: ConfiguredEngine | undefined;
  try {
    const command = flags.build ?? projectBuild(project);
    const first = await runBuild(command, project);
    if (!first.ok) throw new ArgumentError(`the build failed (${command}), nothing to run:\n${first.output}`);
    const { config } = await loadConfig(configFile);
    out = output(flags.json === true, config.engine.logLevel);
    // Before the modules run copies of their builds: the directories the builds write are not watched.
    const skip = unwatched(config, project);
    const versions = new Versions(join(config.engine.stateDir, 'dev-builds'));
    for (const module of config.modules) {
      Object.assign(module, await versions.keep(module.name, module.component));
      versions.serving(module.name, module.sha256!);
    }
    configured = await startConfigured(config, { logger: out.logger });
    const dirs = (flags.watch ?? [project]).map((d) => resolve(d));
    out.line({ msg: 'dev: engine running', modules: config.modules.map((m) => m.name), build: command, watching: dirs }, `corral dev: ${config.modules.map((m) => m.name).join(', ')} running; watching ${dirs.map((d) => relative(process.cwd(), d) || '.').join(', ')}; build: ${command}; type "<topic> <payload>" to publish`);
    const reloader = new Reloader(configured, configFile, command, project, versions, out);
    const watchers = dirs.flatMap((dir) => watchTree(dir, skip, () => reloader.changed()));
    const input = createInterface({ input: process.stdin });
    input.on('line', (line) => void publishLine(configured!, out!, line));
    const signal = await new Promise<NodeJS.Signals>((resolveSignal) => {
      // Nothing else may hold the event loop (no chain, no timer): the engine still serves typed events.
      const keepAlive = setInterval(() => {}, MAX_TIMER_DELAY_MS);
      const stop = (s: NodeJS.Signals) => {
        clearInterval(keepAlive);
        resolveSignal(s);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    input.close();
    for (const w of watchers) w.close();
    await reloader.idle();
    out.line({ msg: 'dev: stopping', signal }, `corral dev: ${signal}: stopping`);
    await configured.stop();
    return EXIT_OK;
  } catch (error) {
    await configured?.stop().catch(() => undefined);
    return reportFailure(error);
  }
}

/** The project's build: `npm run build` when its package.json has a build script. */
function projectBuild(project: string): string {
  const path = join(project, 'package.json');
  const scripts = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { scripts?: Record<string, string> }).scripts : undefined;
  if (scripts?.build) return 'npm run build';
  throw new ArgumentError(`${project} has no package.json with a "build" script: pass --build <command>`);
}

/** Runs the build command in the project; its output is kept, not shown, unless it fails. */
function runBuild(command: string, cwd: string): Promise<Build> {
  const started = performance.now();
  return new Promise((done) => {
    const child = spawn(command, { cwd, shell: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => done({ ok: false, ms: performance.now() - started, output: error.message }));
    child.on('close', (code) => done({ ok: code === 0, ms: Math.round(performance.now() - started), output: output.trim() }));
  });
}

/** What is never watched: dependencies, the state directory and the directories the components are built into. */
function unwatched(config: ResolvedEngineConfig, project: string): (path: string) => boolean {
  const prefixes = [config.engine.stateDir, ...config.modules.map((m) => dirname(m.component))].map((p) => resolve(p)).filter((p) => p !== project);
  return (path) => path.split(sep).some((part) => UNWATCHED.has(part)) || prefixes.some((p) => path === p || path.startsWith(p + sep));
}

/**
 * Watches `dir` and every directory below it that is not skipped, each with a plain `fs.watch`: a
 * recursive watch would descend into node_modules before anything could skip it.
 */
function watchTree(dir: string, skip: (path: string) => boolean, changed: () => void): FSWatcher[] {
  if (skip(dir)) return [];
  const watcher = watch(dir, (_event, name) => name && !skip(join(dir, name.toString())) && changed());
  // A watched directory that is removed ends its watch; the change is seen by its parent's.
  watcher.on('error', () => watcher.close());
  const watchers = [watcher];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && !entry.name.startsWith('.')) watchers.push(...watchTree(join(dir, entry.name), skip, changed));
  }
  return watchers;
}

/**
 * Copies of each module's builds, named by their sha256: the engine runs a copy, so the build can write
 * the next one in place while the previous stays loadable for a rollback.
 */
class Versions {
  private readonly current = new Map<string, string>();
  constructor(private readonly dir: string) {}

  sha(module: string): string | undefined {
    return this.current.get(module);
  }

  /** The component to run for `module` now: a copy of its build, pinned. */
  async keep(module: string, component: string): Promise<{ component: string; sha256: string }> {
    const sha256 = createHash('sha256').update(await readFile(component)).digest('hex');
    const copy = join(this.dir, `${module}-${sha256.slice(0, 16)}.wasm`);
    await mkdir(this.dir, { recursive: true });
    await copyFile(component, copy);
    return { component: copy, sha256 };
  }

  serving(module: string, sha256: string): void {
    this.current.set(module, sha256);
  }

  /** A version that can no longer come back (its successor passed probation, or it failed its own). */
  drop(module: string, sha256: string): Promise<void> {
    return rm(join(this.dir, `${module}-${sha256.slice(0, 16)}.wasm`), { force: true });
  }
}

/** One build at a time; a change during a build builds again after it. */
class Reloader {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private count = 0;
  private readonly versions: Map<string, number> = new Map();

  constructor(
    private readonly configured: ConfiguredEngine,
    private readonly configFile: string,
    private readonly command: string,
    private readonly project: string,
    private readonly builds: Versions,
    private readonly out: Output,
  ) {
    for (const actor of configured.engine.actors()) this.versions.set(actor.name, 1);
  }

  changed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.start(), DEV_DEBOUNCE_MS);
  }

  async idle(): Promise<void> {
    clearTimeout(this.timer);
    while (this.running) await this.running;
  }

  private start(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.reload().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.start();
      }
    });
  }

  private async reload(): Promise<void> {
    const reload = ++this.count;
    const build = await runBuild(this.command, this.project);
    if (!build.ok) {
      this.out.line({ msg: 'dev: reload', reload, result: 'build-failed', buildMs: build.ms, output: build.output }, `reload ${reload}: build failed in ${build.ms} ms; the previous version keeps serving\n${indent(build.output)}`);
      return;
    }
    let config: ResolvedEngineConfig;
    try {
      ({ config } = await loadConfig(this.configFile));
    } catch (error) {
      this.refused(reload, build, undefined, error);
      return;
    }
    for (const manifest of config.modules) {
      const running = this.builds.sha(manifest.name);
      if (running === undefined) {
        this.out.line({ msg: 'dev: reload', reload, module: manifest.name, result: 'not-running' }, `reload ${reload}: ${manifest.name} is new in engine.toml: restart corral dev to run it`);
        continue;
      }
      const kept = await this.builds.keep(manifest.name, manifest.component);
      if (kept.sha256 === running) {
        this.out.line({ msg: 'dev: reload', reload, module: manifest.name, result: 'unchanged', buildMs: build.ms }, `reload ${reload}: ${manifest.name} unchanged (built in ${build.ms} ms)`);
        continue;
      }
      await this.swap(reload, build, { ...manifest, ...kept }, running);
    }
  }

  private async swap(reload: number, build: Build, manifest: ResolvedEngineConfig['modules'][number], running: string): Promise<void> {
    const name = manifest.name;
    try {
      const swapped = await this.configured.engine.replace(manifest);
      const version = (this.versions.get(name) ?? 1) + 1;
      this.versions.set(name, version);
      this.builds.serving(name, swapped.version);
      this.out.line(
        { msg: 'dev: reload', reload, module: name, result: 'swapped', version, buildMs: build.ms, previous: swapped.previous, sha256: swapped.version, capabilities: swapped.capabilities },
        `reload ${reload}: ${name} v${version} built in ${build.ms} ms, ${swapped.previous.slice(0, 8)} → ${swapped.version.slice(0, 8)}, capabilities ${describeDiff(swapped.capabilities)}: swapped`,
      );
      void swapped.probation.then((end) => this.probation(reload, name, version, end, running, swapped.version));
    } catch (error) {
      await this.builds.drop(name, manifest.sha256!);
      this.refused(reload, build, name, error);
    }
  }

  private async probation(reload: number, name: string, version: number, end: ProbationEnd, previous: string, sha256: string): Promise<void> {
    const rolledBack = end.result === 'rolled-back' || end.result === 'rollback-failed';
    if (end.result === 'kept') await this.builds.drop(name, previous);
    if (rolledBack) {
      this.builds.serving(name, previous);
      this.versions.set(name, version - 1);
      await this.builds.drop(name, sha256);
    }
    const what = end.result === 'kept' ? 'kept' : end.result === 'rolled-back' ? `${end.signal}: rolled back to v${version - 1}` : end.result === 'rollback-failed' ? `${end.signal}, and the previous version did not load again: ${name} is not running` : 'superseded';
    this.out.line({ msg: 'dev: first events', reload, module: name, version, outcomes: end.outcomes, result: end.result }, `reload ${reload}: ${name} v${version} first events: ${end.outcomes.join(', ') || 'none'}: ${what}`);
  }

  private refused(reload: number, build: Build, module: string | undefined, error: unknown): void {
    const code = error instanceof CorralError ? error.code : undefined;
    const capabilities = error instanceof CorralError ? (error.details as { capabilities?: CapabilityDiff }).capabilities : undefined;
    const message = error instanceof Error ? error.message : String(error);
    this.out.line(
      { msg: 'dev: reload', reload, ...(module ? { module } : {}), result: 'refused', buildMs: build.ms, ...(code ? { code } : {}), ...(capabilities ? { capabilities } : {}), error: message },
      `reload ${reload}: ${module ?? 'engine.toml'} built in ${build.ms} ms${capabilities ? `, capabilities ${describeDiff(capabilities)}` : ''}: not swapped, the previous version keeps serving (${message})`,
    );
  }
}

function describeDiff(diff: CapabilityDiff): string {
  const parts = [...diff.added.map((i) => `+${i}`), ...diff.removed.map((i) => `-${i}`), ...diff.ungranted.map((u) => `${u.import} needs grant \`${u.grant}\``)];
  return parts.length === 0 ? 'unchanged' : parts.join(' ');
}

const indent = (text: string) => text.split('\n').map((l) => `  ${l}`).join('\n');

/** `<topic> <payload>` typed on stdin: published as a custom event. */
async function publishLine(configured: ConfiguredEngine, out: Output, line: string): Promise<void> {
  const text = line.trim();
  if (text === '') return;
  const space = text.indexOf(' ');
  const topic = space < 0 ? text : text.slice(0, space);
  const payload = space < 0 ? '' : text.slice(space + 1);
  try {
    await configured.engine.publish(topic, payload);
  } catch (error) {
    out.line({ msg: 'dev: publish failed', topic, error: error instanceof Error ? error.message : String(error) }, `publish to ${topic} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Where dev's lines go: pino JSON lines on stdout with `--json`, else short lines (the engine's logs among them). */
interface Output {
  logger: Logger;
  line(fields: Record<string, unknown> & { msg: string }, text: string): void;
}

function output(json: boolean, level: string): Output {
  if (json) {
    const logger = pino({ name: 'corral', level });
    return { logger, line: ({ msg, ...fields }) => logger.info(fields, msg) };
  }
  const lines = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const record = JSON.parse(chunk.toString()) as { time?: number; msg?: string; module?: string; level?: number; guest?: boolean; fields?: unknown; err?: { message?: string } };
      // The modules' own log lines, and the engine's warnings and errors: its info lines (each swap's
      // unload and load among them) are what the reload lines sum up.
      if (!record.guest && (record.level ?? 0) < 40) return done();
      const time = new Date(record.time ?? Date.now()).toISOString().slice(11, 19);
      process.stdout.write(`${terminalSafe(`${time} ${record.module ? `${record.module}: ` : ''}${record.msg ?? ''}${record.fields === undefined ? '' : ` ${JSON.stringify(record.fields)}`}${record.err?.message ? ` (${record.err.message})` : ''}`)}\n`);
      done();
    },
  });
  const logger = pino({ name: 'corral', level }, lines);
  return { logger, line: (_fields, text) => process.stdout.write(`${text.split('\n').map(terminalSafe).join('\n')}\n`) };
}
