import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModuleManifest, type Runtime } from '../../src/index.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { EngineError } from '../../src/errors/EngineError.ts';
import { copyStore } from '../../src/cli/storeCopy.ts';
import type { StoreOptions } from '../../src/store/openStore.ts';
import type { EngineStore } from '../../src/store/EngineStore.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';
import { PostgresStore } from '../../src/store/postgres/PostgresStore.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';
import { freshDatabase } from '../postgres.ts';

const bin = fileURLToPath(new URL('../../bin/corral.mjs', import.meta.url));
const env = { ...process.env, CORRAL_CACHE_DIR: process.env.CORRAL_TEST_CACHE_DIR };
const START = 1_000_000;
const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
const hex = (entries: [Uint8Array, Uint8Array][]) => entries.map(([k, v]) => [Buffer.from(k).toString('hex'), Buffer.from(v).toString('hex')]);

const modules: ModuleManifest[] = [
  { name: 'jobs', component: fixture('job-probe'), topics: ['cmd'], grants: { store: true, queue: true, http: { hosts: [] } } },
  { name: 'timers', component: fixture('timer-probe'), topics: ['cmd'], grants: { store: true, timers: true } },
];

let runtime: Runtime;
beforeAll(() => {
  runtime = newRuntime();
});
afterAll(async () => {
  await runtime.close();
});

/** An engine on either store, on a ManualClock at START, its modules owned and their lifecycle tasks run. */
async function startEngine(store: StoreOptions, only = modules) {
  const clock = new ManualClock(START);
  const engine = await Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-copy-')), store, logger: captureLogger().logger, clock, modules: only });
  if (store.backend === 'postgres') await expect.poll(() => engine.owned().size).toBe(only.length);
  await engine.jobsSettled();
  let seq = 0;
  const run = async (module: string, command: object) => {
    const outcome = await engine.deliver(module, { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: ++seq });
    expect(outcome.ok).toBe(true);
  };
  return { engine, clock, run };
}

/** Every key and value of a module as a store holds it, corral's reserved keys included. */
async function storeEntries(store: EngineStore, name: string): Promise<[Uint8Array, Uint8Array][]> {
  const state = await store.module(name);
  const entries: [Uint8Array, Uint8Array][] = [];
  for await (const key of state.keys({ limit: -1 })) entries.push([key, state.getSync(key)!]);
  return entries;
}

/** The lifecycle tasks each engine start and stop append to (job-probe's `lifecycle` key) are not compared. */
const LIFECYCLE = Buffer.from('lifecycle').toString('hex');
const withoutLifecycle = (rows: string[][]) => rows.filter(([key]) => key !== LIFECYCLE);

/** A LevelDB state dir an engine left: state, a cursor, a pending job due in a minute, a timer due in a minute. */
async function levelState(): Promise<{ stateDir: string; entries: Record<'jobs' | 'timers', [Uint8Array, Uint8Array][]>; cursors: Record<'jobs' | 'timers', unknown> }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'corral-copy-level-'));
  const { engine, run } = await startEngine({ backend: 'level', stateDir });
  try {
    await run('jobs', { op: 'set', key: 'greeting', value: 'hello' });
    await run('jobs', { op: 'enqueue', type: 'later', payload: { op: 'count' }, n: 1, opts: { delayMs: 60_000 }, record: false });
    await run('timers', { op: 'note', text: 'kept' });
    await run('timers', { op: 'at', at: START + 60_000, tag: 'in-a-minute' });
    expect(await engine.pendingJobs('jobs')).toHaveLength(1);
    const cursors = { jobs: await engine.cursor('jobs'), timers: await engine.cursor('timers') };
    await engine.stop();
    // What the stopped engine left, read from the state dir itself (its stop ran the lifecycle tasks).
    const level = await LevelStore.open(stateDir);
    const entries = { jobs: await storeEntries(level, 'jobs'), timers: await storeEntries(level, 'timers') };
    await level.close();
    return { stateDir, entries, cursors };
  } catch (error) {
    await engine.stop();
    throw error;
  }
}

describe('corral store copy', () => {
  it('behavior: an engine on PostgreSQL continues a LevelDB engine from the copied state and cursors, and the pending job and timer still run', async () => {
    const { stateDir, entries, cursors } = await levelState();
    const url = await freshDatabase();

    const copied = await copyStore(stateDir, { url });
    expect(copied.map((m) => m.name).sort()).toEqual(['jobs', 'timers']);
    const jobs = copied.find((m) => m.name === 'jobs')!;
    // The custom-event cursor stays behind: LevelDB numbered the events itself, the table numbers them anew.
    expect(cursors.jobs).toMatchObject({ seq: expect.any(Number) });
    expect(jobs.cursors).toEqual([]);
    expect(jobs.reservedKeys).toBeGreaterThanOrEqual(1); // the pending task at least
    expect(jobs.keys + jobs.reservedKeys).toBe(entries.jobs.length);

    // Key for key, reserved keys included.
    const copy = await PostgresStore.open({ url, mode: 'read' });
    expect(hex(await storeEntries(copy, 'jobs'))).toEqual(hex(entries.jobs));
    expect(hex(await storeEntries(copy, 'timers'))).toEqual(hex(entries.timers));
    await copy.close();

    const { engine, clock, run } = await startEngine({ backend: 'postgres', url });
    try {
      // The engine continues from there: the same state and cursors, nothing re-run, nothing lost.
      expect(withoutLifecycle(hex(await engine.entries('jobs')))).toEqual(withoutLifecycle(hex(entries.jobs)));
      expect(withoutLifecycle(hex(await engine.entries('timers')))).toEqual(withoutLifecycle(hex(entries.timers)));
      // From the table's current end (nothing published there yet), not from LevelDB's numbering.
      expect(await engine.cursor('jobs')).toEqual({ seq: 0 });
      expect(await engine.cursor('timers')).toEqual({ seq: 0 });
      expect(await engine.pendingJobs('jobs')).toHaveLength(1);

      clock.advance(60_000);
      await expect.poll(async () => text(await engine.read('timers', new TextEncoder().encode('fired')))).toBe('["in-a-minute"]');
      await expect.poll(async () => text(await engine.read('jobs', new TextEncoder().encode('count')))).toBe('1');
      await engine.jobsSettled('jobs');
      expect(await engine.pendingJobs('jobs')).toHaveLength(0);
      // And it goes on committing from there.
      await run('jobs', { op: 'bump', key: 'count' });
      expect(text(await engine.read('jobs', new TextEncoder().encode('count')))).toBe('2');
    } finally {
      await engine.stop();
    }
  });

  it('error: a target that already holds state for a module is refused by name, nothing written', async () => {
    const { stateDir } = await levelState();
    const url = await freshDatabase();
    // `timers` already has state there; `jobs` has none (no replica ran it).
    const { engine, run } = await startEngine({ backend: 'postgres', url }, modules.filter((m) => m.name === 'timers'));
    await run('timers', { op: 'note', text: 'already here' });
    await engine.stop();

    const error = await copyStore(stateDir, { url }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ code: 'invalid-option' });
    expect((error as Error).message).toContain('timers (it already has state there)');
    expect((error as Error).message).not.toContain('jobs (');

    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    await client.connect();
    try {
      // `jobs` was acquired (to check it) but nothing of the LevelDB state was written to it.
      const { rows } = await client.query<{ n: string }>(`select count(*)::text as n from corral.kv k join corral.modules m on m.id = k.module_id where m.name = 'jobs'`);
      expect(rows[0]!.n).toBe('0');
      const cursors = await client.query(`select 1 from corral.cursors c join corral.modules m on m.id = c.module_id where m.name = 'jobs'`);
      expect(cursors.rowCount).toBe(0);
    } finally {
      await client.end();
    }
  });

  it('default: the command prints what it copied per module and exits 0; a second copy is refused, exit 1', async () => {
    const { stateDir } = await levelState();
    const url = await freshDatabase();
    const first = spawnSync(process.execPath, [bin, 'store', 'copy', stateDir, url], { env, encoding: 'utf8' });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^jobs: \d+ keys? and \d+ of corral's .*cursors none/m);
    expect(first.stdout).toMatch(/^timers: /m);
    const second = spawnSync(process.execPath, [bin, 'store', 'copy', stateDir, url], { env, encoding: 'utf8' });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain('nothing written');
    expect(second.stderr).not.toContain('corral-test'); // the password is not printed
  });
});
