import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ModuleManifest, type Runtime } from '../../src/index.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { EngineError } from '../../src/errors/EngineError.ts';
import { inspectPostgres, inspectState } from '../../src/cli/inspect.ts';
import { jsonReplacer } from '../../src/cli/jsonValues.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';
import { freshDatabase } from '../postgres.ts';

const bin = fileURLToPath(new URL('../../bin/corral.mjs', import.meta.url));
const env = { ...process.env, CORRAL_CACHE_DIR: process.env.CORRAL_TEST_CACHE_DIR };
const modules: ModuleManifest[] = [
  { name: 'jobs', component: fixture('job-probe'), topics: ['cmd'], grants: { store: true, queue: true, http: { hosts: [] } } },
  { name: 'timers', component: fixture('timer-probe'), topics: ['cmd'], grants: { store: true, timers: true } },
];
interface Summary {
  name: string;
  owner: { id: number; name: string } | null;
  epoch: number;
  cursors: Record<string, unknown>;
  keys: number;
  timers: number;
  jobs: { pending: number; dead: number };
}

let runtime: Runtime;
let url: string;
let engine: Engine;
let seq = 0;
const run = async (module: string, command: object) => {
  const outcome = await engine.deliver(module, { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: ++seq });
  expect(outcome.ok).toBe(true);
};
/** The report as the command prints it, parsed. */
const asPrinted = (report: unknown) => JSON.parse(JSON.stringify(report, jsonReplacer));

beforeAll(async () => {
  runtime = newRuntime();
  url = await freshDatabase();
  engine = await Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-inspect-pg-')), store: { backend: 'postgres', url, replica: 'inspected' }, logger: captureLogger().logger, clock: new ManualClock(1_000_000), modules });
  await vi.waitFor(() => expect(engine.owned().size).toBe(2), { timeout: 15_000 });
  await engine.jobsSettled();
  await run('jobs', { op: 'set', key: 'order/1', value: 'open' });
  await run('jobs', { op: 'set', key: 'order/2', value: 'filled' });
  await run('jobs', { op: 'set', key: 'other', value: 1 });
  await run('jobs', { op: 'enqueue', type: 'later', payload: { op: 'count' }, n: 1, opts: { delayMs: 60_000 }, record: false });
  await run('timers', { op: 'at', at: 1_060_000, tag: 'in-a-minute' });
});
afterAll(async () => {
  await engine?.stop();
  await runtime?.close();
});

describe('corral inspect --store', () => {
  it('default: while the replica runs, the same report as for a state dir plus each module\'s owner and epoch', async () => {
    const report = asPrinted(await inspectPostgres({ url })) as { url: string; schema: string; modules: Summary[] };
    expect(report.schema).toBe('corral');
    const owned = engine.owned();
    const jobs = report.modules.find((m) => m.name === 'jobs')!;
    expect(jobs).toMatchObject({ owner: { name: 'inspected' }, epoch: Number(owned.get('jobs')), cursors: { custom: { seq: 4 } }, keys: 4, jobs: { pending: 1, dead: 0 } }); // keys: order/1, order/2, other, lifecycle
    expect(report.modules.find((m) => m.name === 'timers')).toMatchObject({ owner: { name: 'inspected' }, epoch: Number(owned.get('timers')), timers: 1 });
    // Read-only, no lease: the replica still owns its modules under the same epochs and commits.
    expect(engine.owned()).toEqual(owned);
    await run('jobs', { op: 'set', key: 'after', value: true });
    expect((asPrinted(await inspectPostgres({ url })) as { modules: Summary[] }).modules.find((m) => m.name === 'jobs')!.keys).toBe(5);
  });

  it('args: --module lists one module\'s keys under a prefix with its timers and tasks', async () => {
    const report = asPrinted(await inspectPostgres({ url }, { module: 'jobs', prefix: 'order/', limit: 1 })) as { entries: { key: { utf8: string }; value: { utf8: string } }[]; owner: { name: string }; jobs: { pending: { type: string }[] } };
    expect(report.entries).toEqual([{ key: { utf8: 'order/1', base64: Buffer.from('order/1').toString('base64') }, value: { utf8: '"open"', json: 'open', base64: Buffer.from('"open"').toString('base64') }, bytes: 'order/1"open"'.length }]);
    expect(report.owner.name).toBe('inspected');
    expect(report.jobs.pending.map((j) => j.type)).toEqual(['module:jobs:later']);
  });

  it('behavior: the command prints the report as JSON, with the url\'s password hidden, from --store or an engine.toml\'s [store]', () => {
    const result = spawnSync(process.execPath, [bin, 'inspect', '--store', url, '--module', 'timers'], { env, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const printed = JSON.parse(result.stdout) as { module: string; timers: { tag: string }[]; epoch: number };
    expect(printed).toMatchObject({ module: 'timers', timers: [{ tag: 'in-a-minute' }], epoch: Number(engine.owned().get('timers')) });
    const summary = spawnSync(process.execPath, [bin, 'inspect', '--store', url], { env, encoding: 'utf8' });
    expect(summary.status, summary.stderr).toBe(0);
    expect(summary.stdout).not.toContain('corral-test'); // test/postgres.ts's password
    expect(JSON.parse(summary.stdout).url).toContain('***');
    // An engine.toml: its [store], `${DATABASE_URL}` substituted as for `corral run`.
    const dir = mkdtempSync(join(tmpdir(), 'corral-inspect-toml-'));
    writeFileSync(join(dir, 'engine.toml'), '[store]\nbackend = "postgres"\nurl = "${DATABASE_URL}"\n');
    const configured = spawnSync(process.execPath, [bin, 'inspect', join(dir, 'engine.toml'), '--module', 'jobs', '--prefix', 'order/'], { env: { ...env, DATABASE_URL: url }, encoding: 'utf8' });
    expect(configured.status, configured.stderr).toBe(0);
    const fromToml = JSON.parse(configured.stdout) as Record<string, unknown>;
    expect(fromToml).toMatchObject({ module: 'jobs', entries: [{ key: { utf8: 'order/1' } }, { key: { utf8: 'order/2' } }] });
    expect(Object.keys(fromToml)).toEqual(expect.arrayContaining(['owner', 'epoch']));
  });

  it('error: an unknown module is EngineError unknown-module; a state dir and --store together, or neither, exit 1', async () => {
    await expect(inspectPostgres({ url }, { module: 'nope' })).rejects.toSatisfy((e: unknown) => e instanceof EngineError && e.code === 'unknown-module');
    const both = spawnSync(process.execPath, [bin, 'inspect', mkdtempSync(join(tmpdir(), 'corral-x-')), '--store', url], { env, encoding: 'utf8' });
    expect(both.status).toBe(1);
    expect(both.stderr).toContain('a state directory, an engine.toml, --store <url> or --url <url>');
    expect(spawnSync(process.execPath, [bin, 'inspect'], { env, encoding: 'utf8' }).status).toBe(1);
    // The LevelDB path is unchanged: a directory without a database is refused by name.
    await expect(inspectState(mkdtempSync(join(tmpdir(), 'corral-empty-')))).rejects.toSatisfy((e: unknown) => e instanceof EngineError && e.code === 'invalid-option');
  });
});
