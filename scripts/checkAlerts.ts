/**
 * Checks the shipped Prometheus rules (deploy/prometheus/corral-alerts.yml), their promtool unit tests
 * (corral-alerts.test.yml) and the Grafana dashboard (deploy/grafana/corral-dashboard.json) against a
 * real engine: it runs one on anvil whose modules trip the alerts' conditions (a reorg deeper than a
 * module's window halts it, a module that runs out of fuel has its circuit opened, a failing task is
 * dead-lettered), scrapes its /metrics, and fails when
 * - a `corral_*` metric the rules or the dashboard use has no sample in the scrape, or
 * - a unit test's input series names a metric, or a label set, the scrape does not have;
 * and, where `promtool` is on PATH (Debian: `apt-get install prometheus`), when `promtool check rules`
 * or `promtool test rules` fails. Nothing is installed: without promtool the metric checks still run.
 *
 *   npx tsx scripts/checkAlerts.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { filter, firstValueFrom } from 'rxjs';
import { parse } from 'yaml';
import { startAnvil } from '../src/chain/embeddedAnvil.ts';
import { ManualClock } from '../src/clock/Clock.ts';
import { Engine } from '../src/engine/Engine.ts';
import { DEFAULT_READINESS } from '../src/limits/defaults.ts';
import type { ModuleManifest } from '../src/index.ts';
import { EngineMetrics, serveMetrics } from '../src/metrics/EngineMetrics.ts';
import { Runtime } from '../src/runtime/Runtime.ts';
import { deployEmitter } from '../test/emitter.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
export const RULES_FILE = join(root, 'deploy', 'prometheus', 'corral-alerts.yml');
export const RULES_TEST_FILE = join(root, 'deploy', 'prometheus', 'corral-alerts.test.yml');
export const DASHBOARD_FILE = join(root, 'deploy', 'grafana', 'corral-dashboard.json');

/** The suffixes Prometheus adds to a histogram's (or summary's) base name. */
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];
/** Labels the scraping Prometheus adds, not the engine. */
const TARGET_LABELS = new Set(['instance', 'job']);

/** Every `corral_*` name in the rules' expressions and the dashboard's queries (and its template variables). */
export function metricsUsed(rulesYaml: string, dashboardJson: string): Set<string> {
  const rules = parse(rulesYaml) as { groups?: { rules?: { expr?: unknown }[] }[] };
  const expressions = (rules.groups ?? []).flatMap((g) => (g.rules ?? []).map((r) => String(r.expr ?? '')));
  const dashboard = JSON.parse(dashboardJson) as { panels?: { targets?: { expr?: string }[] }[]; templating?: { list?: { query?: unknown }[] } };
  for (const panel of dashboard.panels ?? []) for (const t of panel.targets ?? []) expressions.push(t.expr ?? '');
  for (const variable of dashboard.templating?.list ?? []) expressions.push(JSON.stringify(variable.query ?? ''));
  return new Set(expressions.flatMap((e) => e.match(/\bcorral_[a-z0-9_]+/g) ?? []));
}

/** One scrape: per sample name, the label-name sets it was seen with, and per family name its `# TYPE`. */
export interface Scrape {
  samples: Map<string, Set<string>>;
  types: Map<string, string>;
}

/** Parses Prometheus text exposition (what `/metrics` serves). */
export function parseScrape(text: string): Scrape {
  const samples = new Map<string, Set<string>>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#') || line.trim() === '') continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!sample) continue;
    const labels = [...(sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((m) => m[1]!).sort();
    const seen = samples.get(sample[1]!) ?? new Set<string>();
    seen.add(labels.join(','));
    samples.set(sample[1]!, seen);
  }
  return { samples, types };
}

/** `name` has a sample: itself, or (a histogram's base name) its `_bucket`/`_sum`/`_count`; or it is such a suffix of a histogram that has. */
function hasSamples(name: string, scrape: Scrape): boolean {
  if (scrape.samples.has(name)) return true;
  if (scrape.types.get(name) === 'histogram') return HISTOGRAM_SUFFIXES.some((s) => scrape.samples.has(name + s));
  return false;
}

/** The metrics `used` that no sample of `scrape` has, sorted. */
export function missingMetrics(used: Iterable<string>, scrape: Scrape): string[] {
  return [...used].filter((name) => !hasSamples(name, scrape)).sort();
}

/**
 * The promtool unit tests' input series whose metric, or whose label names (less `instance` and `job`),
 * no sample of `scrape` has: an input made up rather than copied from a real scrape.
 */
export function unscrapedInputs(testsYaml: string, scrape: Scrape): string[] {
  const tests = parse(testsYaml) as { tests?: { input_series?: { series: string }[] }[] };
  const bad: string[] = [];
  for (const test of tests.tests ?? []) {
    for (const { series } of test.input_series ?? []) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$/.exec(series.trim());
      const labels = [...(match?.[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)=/g)].map((m) => m[1]!).filter((l) => !TARGET_LABELS.has(l)).sort().join(',');
      if (!match || !scrape.samples.get(match[1]!)?.has(labels)) bad.push(series);
    }
  }
  return bad;
}

/** promtool's path when it is on PATH. */
export function findPromtool(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'promtool');
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

/** Runs promtool; its exit status and what it printed. */
export function runPromtool(promtool: string, args: string[]): { ok: boolean; output: string } {
  const run = spawnSync(promtool, args, { encoding: 'utf8' });
  return { ok: run.status === 0, output: `${run.stdout ?? ''}${run.stderr ?? ''}`.trim() };
}

const fixture = (name: string) => join(root, 'fixtures', 'build', `${name}.wasm`);
const CHAIN = 31337;

/**
 * Runs an engine on a fresh anvil whose modules trip the alerts' conditions, and returns its /metrics text:
 * - `near` (the watcher) is halted by a reorg deeper than its chain's window (4 blocks);
 * - `spinner` (job-probe) runs out of fuel twice within its restart intensity (1): its circuit opens;
 * - `tasks` (job-probe) has a task fail with no retry left: it is dead-lettered;
 * - the chain has no new head for longer than `max_head_age_ms` (on the readiness clock): chain-stalled.
 */
export async function scrapeTrippedEngine(): Promise<string> {
  const anvil = await startAnvil();
  const runtime = new Runtime({ threads: 2, cacheDir: process.env.CORRAL_TEST_CACHE_DIR });
  const stateDir = mkdtempSync(join(tmpdir(), 'corral-alerts-'));
  try {
    const emitter = await deployEmitter(anvil);
    const clock = new ManualClock(1_000_000);
    const probe = (name: string, extra: Partial<ModuleManifest>): ModuleManifest => ({ name, component: fixture('job-probe'), topics: ['cmd'], grants: { store: true, queue: true, http: { hosts: [] } }, ...extra });
    const engine = await Engine.start({
      runtime,
      stateDir,
      clock,
      logger: pino({ level: 'silent' }),
      chains: { [CHAIN]: { rpcUrl: anvil.url, pollIntervalMs: 20, reorgWindow: 4 } },
      modules: [
        { name: 'near', component: fixture('watcher'), grants: { store: true, logging: true }, limits: { fuel: 1e10, timeoutMs: 10_000 }, startBlock: Number(emitter.deployedAt) + 1, triggers: [{ kind: 'log', chain: CHAIN, address: emitter.address }] },
        probe('spinner', { limits: { fuel: 20_000_000 }, supervision: { intensity: 1, backoffJitter: 0 } }),
        probe('tasks', {}),
      ],
    });
    // Readiness on a clock of its own: moving it past max_head_age_ms stalls the chain, not the modules' timers.
    const readinessClock = new ManualClock(0);
    const metrics = new EngineMetrics(engine, { clock: readinessClock });
    const server = await serveMetrics(metrics, '127.0.0.1:0');
    try {
      let seq = 0;
      const command = (module: string, c: object) => engine.deliver(module, { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(c) } }, { seq: ++seq });

      let last = 0n;
      for (let i = 0; i < 8; i++) last = await emitter.emit(1, 1);
      await engine.reached('near', CHAIN, last);
      const halted = firstValueFrom(engine.signals$.pipe(filter((s) => s.type === 'Stopped' && s.actor === 'near')));
      await anvil.rpc('anvil_reorg', [6, [[emitter.call(9, 1), 0]]]);
      await halted;

      await command('spinner', { op: 'spin' });
      clock.advance(100); // its backoff
      await command('spinner', { op: 'spin' });
      if (engine.actors().find((a) => a.name === 'spinner')?.breaker !== 'open') throw new Error('checkAlerts: the spinner\'s circuit did not open');

      await command('tasks', { op: 'enqueue', type: 'work', payload: { op: 'needs', key: 'never-set' }, n: 1, opts: { maxRetry: 0 }, record: false });
      await engine.jobsSettled('tasks');
      if (engine.jobStats('tasks').deadLetters < 1) throw new Error('checkAlerts: the failing task was not dead-lettered');

      readinessClock.advance(DEFAULT_READINESS.maxHeadAgeMs + 1); // no block is mined meanwhile: chain-stalled
      return await (await fetch(`${server.url}/metrics`)).text();
    } finally {
      await server.close();
      metrics.close();
      await engine.stop();
    }
  } finally {
    await runtime.close();
    await anvil.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** Every check; the problems found (none: all good) and what promtool said, when it ran. */
export async function checkAlerts(scrapeText?: string): Promise<{ problems: string[]; promtool: string | undefined; promtoolOutput: string[] }> {
  const scrape = parseScrape(scrapeText ?? (await scrapeTrippedEngine()));
  const problems: string[] = [];
  const missing = missingMetrics(metricsUsed(readFileSync(RULES_FILE, 'utf8'), readFileSync(DASHBOARD_FILE, 'utf8')), scrape);
  if (missing.length > 0) problems.push(`used by the rules or the dashboard but not in a real scrape: ${missing.join(', ')}`);
  const made = unscrapedInputs(readFileSync(RULES_TEST_FILE, 'utf8'), scrape);
  if (made.length > 0) problems.push(`unit-test input series unlike any scraped one: ${made.join(', ')}`);
  const promtool = findPromtool();
  const promtoolOutput: string[] = [];
  if (promtool) {
    for (const args of [['check', 'rules', RULES_FILE], ['test', 'rules', RULES_TEST_FILE]]) {
      const { ok, output } = runPromtool(promtool, args);
      promtoolOutput.push(`promtool ${args.join(' ')}:\n${output}`);
      if (!ok) problems.push(`promtool ${args.slice(0, 2).join(' ')} failed:\n${output}`);
    }
  }
  return { problems, promtool, promtoolOutput };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { problems, promtool, promtoolOutput } = await checkAlerts();
  for (const out of promtoolOutput) console.log(out);
  if (!promtool) console.log('promtool is not on PATH (Debian: apt-get install prometheus): checked the metrics only');
  for (const problem of problems) console.error(problem);
  console.log(problems.length === 0 ? 'alerts and dashboard: ok' : `alerts and dashboard: ${problems.length} problem(s)`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}
