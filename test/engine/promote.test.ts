import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModuleManifest, Runtime } from '../../src/index.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { EngineError } from '../../src/errors/EngineError.ts';
import { isReserved } from '../../src/store/reservedKeys.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';
import { jobProbe } from '../jobs/jobHarness.ts';
import { command, got, handled, msgProbe } from './messagesHarness.ts';

/**
 * `engine.promote` (src/engine/promote.ts) beyond test/engine/shadow.test.ts: the live version is
 * handed over, not deactivated; a migrate stopped by a signal; a candidate that cannot be loaded after
 * its migrate committed; messages a migrate sends.
 */
const built = (name: string) => join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'build', `${name}.wasm`);
/** msg-probe with a `migrate` export: sends `migrated:<from>` to its config's `migrateTo`, or spins with `{"migrate":"spin"}`. */
const MIGRATING = built('msg-probe-migrate');
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

const runtime: Runtime = newRuntime();
afterAll(async () => {
  await runtime.close();
});

async function start(modules: ModuleManifest[]) {
  return Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-promote-')), logger: captureLogger().logger, clock: new ManualClock(), modules });
}

/** Sender `a` (msg-probe, its candidate msg-probe-migrate with `config`) and receiver `b`. */
const pair = (config: Record<string, unknown>) => [
  { ...msgProbe('a', { to: ['b'], shadow: { component: MIGRATING } }), config: JSON.stringify(config), limits: { fuel: 50_000_000, timeoutMs: 10_000 } },
  msgProbe('b', { from: ['a'] }),
];

describe('engine.promote', () => {
  it('behavior: the live version is handed over, so its `module-deactivated` task does not run; the candidate serves', async () => {
    const engine = await start([jobProbe('j', { shadow: { component: fixture('job-probe') } })]);
    const read = async () => JSON.parse(text(await engine.read('j', new TextEncoder().encode('lifecycle'))) ?? '[]') as string[];
    try {
      await engine.jobsSettled('j');
      expect(await read()).toEqual(['module-activated']);
      expect(await engine.promote('j')).toEqual({ migrated: false });
      await engine.jobsSettled('j');
      expect(await read()).not.toContain('module-deactivated');
      expect(engine.shadowReport('j')).toBeUndefined();
      expect(await engine.deliver('j', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify({ op: 'bump' }) } }, { seq: 1 })).toMatchObject({ ok: true });
    } finally {
      await engine.stop();
    }
  });

  it('behavior: a message the migrate sends commits with its writes and wakes its receiver', async () => {
    const engine = await start(pair({ migrateTo: 'b' }));
    try {
      expect(await engine.promote('a')).toEqual({ migrated: true });
      await handled(engine, 'b', 'a', 1, 10_000);
      expect((await got(engine, 'b')).map((m) => [m.seq, m.payload])).toEqual([[1, `migrated:${sha256(fixture('msg-probe'))}`]]);
      // The candidate serves, its numbering after the migrate's message.
      expect(await command(engine, 'a', { op: 'send', to: 'b', payloads: ['next'] })).toMatchObject({ ok: true });
      await handled(engine, 'b', 'a', 2, 10_000);
    } finally {
      await engine.stop();
    }
  });

  it('error: a migrate stopped by a signal commits nothing (migrate-failed, naming the signal); the live version serves on its state, untouched', async () => {
    const engine = await start(pair({ migrate: 'spin', migrateTo: 'b' }));
    try {
      expect(await command(engine, 'a', { op: 'send', to: 'b', payloads: ['before'] })).toMatchObject({ ok: true });
      await handled(engine, 'b', 'a', 1, 10_000);
      // The module's own keys, from one snapshot (the outbox trim the reload asks for changes corral's reserved ones).
      const entries = async () => {
        const view = await engine.readView();
        try {
          const out: string[][] = [];
          for await (const [k, v] of (await view.module('a'))!.entries({ limit: -1 })) if (!isReserved(k)) out.push([Buffer.from(k).toString(), Buffer.from(v).toString()]);
          return out;
        } finally {
          await view.close();
        }
      };
      const before = await entries();
      const error = await engine.promote('a').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect(error).toMatchObject({ code: 'migrate-failed', details: { module: 'a', signal: 'OutOfFuel' } });
      expect(await entries()).toEqual(before);
      expect(before.map(([k]) => k)).not.toContain('migrated-from');
      expect(engine.shadowReport('a')).toBeDefined();
      expect(await command(engine, 'a', { op: 'send', to: 'b', payloads: ['after'] })).toMatchObject({ ok: true });
      await handled(engine, 'b', 'a', 2, 10_000);
      expect((await got(engine, 'b')).map((m) => m.payload)).toEqual(['before', 'after']);
    } finally {
      await engine.stop();
    }
  });

  it('error: a candidate that cannot be loaded after its migrate committed fails with promote-failed (migrated: true); the earlier version serves on the migrated state', async () => {
    const engine = await start(pair({ migrateTo: 'b' }));
    // The one fault no real part makes on cue: the runtime refuses the candidate's load right after its migrate ran.
    const load = runtime.load.bind(runtime);
    let armed = false;
    runtime.load = ((file: string, options: { name: string }) => {
      if (options.name === 'a-migrate') armed = true;
      else if (armed && options.name === 'a') {
        armed = false;
        return Promise.reject(new Error('injected: the candidate cannot be loaded'));
      }
      return load(file, options as Parameters<Runtime['load']>[1]);
    }) as Runtime['load'];
    try {
      const error = await engine.promote('a').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect(error).toMatchObject({ code: 'promote-failed', details: { module: 'a', migrated: true, fromVersion: sha256(fixture('msg-probe')) } });
      expect(text(await engine.read('a', new TextEncoder().encode('migrated-from')))).toBe(JSON.stringify(sha256(fixture('msg-probe'))));
      // The earlier version, with its shadow, serves.
      expect(engine.shadowReport('a')).toBeDefined();
      expect(await command(engine, 'a', { op: 'send', to: 'b', payloads: ['after'] })).toMatchObject({ ok: true });
      await handled(engine, 'b', 'a', 2, 10_000);
      expect((await got(engine, 'b')).map((m) => m.payload)).toEqual([`migrated:${sha256(fixture('msg-probe'))}`, 'after']);
    } finally {
      runtime.load = load;
      await engine.stop();
    }
  });
});
