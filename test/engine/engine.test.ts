import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostLimitExceeded, LoadError, type ModuleManifest, type Runtime } from '../../src/index.ts';
import { type DeliveryOutcome } from '../../src/actor/Actor.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import type { StoreOptions } from '../../src/store/openStore.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';
import { backends } from '../store/backends.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));

/** An engine running counter modules on a ManualClock; on LevelDB in `stateDir`, or on the store `store` names (test/store/backends.ts). */
async function engineWith(modules: Partial<ModuleManifest>[], stateDir = mkdtempSync(join(tmpdir(), 'corral-state-')), store: StoreOptions = { backend: 'level', stateDir }) {
  const { logger, records } = captureLogger();
  const clock = new ManualClock();
  const engine = await Engine.start({
    runtime,
    store,
    logger,
    clock,
    modules: modules.map((m) => ({ name: 'counter', component: fixture('counter'), grants: { store: true, logging: true }, topics: ['cmd'], ...m })),
  });
  let seq = 0;
  const run = (module: string, command: object): Promise<DeliveryOutcome> =>
    engine.deliver(module, { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: ++seq });
  /** Moves the supervisor's clock past a backoff, so the actor serves again after a signal. */
  const pastBackoff = (ms = 60_000) => clock.advance(ms);
  return { engine, run, records, stateDir, store, pastBackoff };
}

const signalOf = (outcome: DeliveryOutcome) => (!outcome.ok && 'signal' in outcome ? outcome.signal : undefined);

describe('engine: custom-event cursors', () => {
  it('behavior: published events\' cursors keep rising across a restart (two runs never commit the same cursor)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-state-'));
    const start = () =>
      Engine.start({ runtime, stateDir, logger: captureLogger().logger, modules: [{ name: 'counter', component: fixture('counter'), grants: { store: true, logging: true }, topics: ['cmd'] }] });
    const first = await start();
    for (let i = 0; i < 3; i++) await first.publish('cmd', JSON.stringify({ op: 'incr' }));
    await first.settled('counter');
    expect(await first.cursor('counter')).toEqual({ seq: 3 });
    await first.stop();
    const second = await start();
    await second.publish('cmd', JSON.stringify({ op: 'incr' }));
    await second.settled('counter');
    expect(await second.cursor('counter')).toEqual({ seq: 4 });
    expect(text(await second.read('counter', bytes('count')))).toBe('4');
    await second.stop();
  });
});

describe('engine: state', () => {
  it('default: a successful event commits its writes together with its cursor', async () => {
    const { engine, run } = await engineWith([{ config: 'hello' }]);
    expect(await run('counter', { op: 'incr' })).toMatchObject({ ok: true });
    expect(await run('counter', { op: 'incr' })).toMatchObject({ ok: true });
    expect(text(await engine.read('counter', bytes('count')))).toBe('2');
    expect(await engine.cursor('counter')).toEqual({ seq: 2 });
    await run('counter', { op: 'config' }); // configure(config) ran on the fresh instance
    expect(text(await engine.read('counter', bytes('config')))).toBe('hello');
    await engine.stop();
  });

  it('behavior: every supervisor signal is a log record: the failure as a warning with its fields, then the backoff and the restart', async () => {
    // A deadline far from the work: the signal under test is the cap's, and a loaded machine once took
    // the 21 host calls past the default 250 ms (ExecutionTimeout outranks HostLimitExceeded).
    const { engine, run, records, pastBackoff } = await engineWith([{ caps: { storeOps: 20 }, limits: { timeoutMs: 10_000 } }]);
    await run('counter', { op: 'write-many', n: 10, prefix: 'k', then: 'exceed' });
    pastBackoff();
    await run('counter', { op: 'incr' });
    expect(records.find((r) => r.signal === 'HostLimitExceeded')).toMatchObject({ level: 40, module: 'counter', limit: 'storeOps', max: 20 });
    expect(records.find((r) => r.supervisor === 'BackingOff')).toMatchObject({ level: 30, module: 'counter', attempt: 1 });
    expect(records.find((r) => r.supervisor === 'Restarted')).toMatchObject({ level: 30, module: 'counter' });
    await engine.stop();
  });

  it('behavior: 1,000 writes then a signal, or an err: none visible, cursor unchanged; then success: all visible', async () => {
    const { engine, run, pastBackoff } = await engineWith([{ caps: { storeOps: 2_000 }, limits: { fuel: 1e12, timeoutMs: 10_000 } }]);
    await run('counter', { op: 'incr' });
    const stopped = await run('counter', { op: 'write-many', n: 1_000, prefix: 'k', then: 'exceed' });
    expect(signalOf(stopped)).toMatchObject({ name: 'HostLimitExceeded', limit: 'storeOps' });
    expect(await engine.read('counter', bytes('k000000'))).toBeUndefined();
    expect(await engine.read('counter', bytes('k000999'))).toBeUndefined();
    expect(await engine.cursor('counter')).toEqual({ seq: 1 });
    pastBackoff();
    const refused = await run('counter', { op: 'write-many', n: 1_000, prefix: 'k', then: 'err' });
    expect(refused).toMatchObject({ ok: true, value: { tag: 'err', val: 'refusing after writing' } });
    expect(await engine.read('counter', bytes('k000500'))).toBeUndefined();
    pastBackoff();
    const ok = await run('counter', { op: 'write-many', n: 1_000, prefix: 'k' });
    expect(ok.ok).toBe(true);
    expect(text(await engine.read('counter', bytes('k000000')))).toBe('v0');
    expect(text(await engine.read('counter', bytes('k000999')))).toBe('v999');
    expect(await engine.cursor('counter')).toEqual({ seq: 4 });
    await engine.stop();
  });

  it('behavior: a module reads its own uncommitted writes; list-keys pages through staged and committed keys', async () => {
    const { engine, run } = await engineWith([{}]);
    await run('counter', { op: 'write-many', n: 5, prefix: 'p' });
    await run('counter', { op: 'list', prefix: 'p', limit: 3 });
    expect(JSON.parse(text(await engine.read('counter', bytes('listed')))!)).toEqual(['p000000', 'p000001', 'p000002']);
    await run('counter', { op: 'list', prefix: 'p', after: 'p000002', limit: 10 });
    expect(JSON.parse(text(await engine.read('counter', bytes('listed')))!)).toEqual(['p000003', 'p000004']);
    await engine.stop();
  });

  it('behavior: two modules with identical keys (NUL bytes, 60 KiB keys, invalid UTF-8) never see each other', async () => {
    const roomy = { limits: { fuel: 1e12, timeoutMs: 10_000 } };
    const { engine, run } = await engineWith([{ name: 'alpha', ...roomy }, { name: 'beta', ...roomy }]);
    const keys = ['00', '0000ff00', 'ff'.repeat(3), 'c3', 'ab'.repeat(30_000), '616c706861'];
    const hex = (s: string) => Buffer.from(s).toString('hex');
    for (const [i, key] of keys.entries()) {
      expect(await run('alpha', { op: 'put', key, value: hex(`a${i}`) })).toMatchObject({ ok: true });
      expect(await run('beta', { op: 'put', key, value: hex(`b${i}`) })).toMatchObject({ ok: true });
    }
    for (const [i, key] of keys.entries()) {
      const k = Uint8Array.from(Buffer.from(key, 'hex'));
      expect(text(await engine.read('alpha', k))).toBe(`a${i}`);
      expect(text(await engine.read('beta', k))).toBe(`b${i}`);
    }
    await run('beta', { op: 'del', key: '00' });
    expect(text(await engine.read('alpha', Uint8Array.from([0])))).toBe('a0');
    await engine.stop();
  });

  describe.each(backends)('on $name', (backend) => {
    it('behavior: state survives an engine restart', async () => {
      const first = await engineWith([{}], undefined, await backend.options());
      await first.run('counter', { op: 'incr' });
      await first.engine.stop();
      const second = await engineWith([{}], undefined, first.store);
      expect(await second.engine.cursor('counter')).toEqual({ seq: 1 });
      await second.run('counter', { op: 'incr' });
      expect(text(await second.engine.read('counter', bytes('count')))).toBe('2');
      await second.engine.stop();
    });

    it('behavior: a quarantined module is still quarantined after an engine restart (its breaker in the store)', async () => {
      const quarantineAtOnce = { caps: { storeOps: 1 } };
      const first = await engineWith([quarantineAtOnce], undefined, await backend.options());
      // Four signals within the period exceed the default intensity (3 restarts within 5 s): the circuit opens.
      for (let i = 0; i < 4; i++) {
        await first.run('counter', { op: 'reads', n: 5 });
        first.pastBackoff(1_000); // past each backoff (≤ 480 ms), still inside the period
      }
      expect(first.engine.actors()[0]!.breaker).toBe('open');
      await first.engine.stop();
      const second = await engineWith([quarantineAtOnce], undefined, first.store);
      expect(second.engine.actors()[0]).toMatchObject({ state: 'quarantined', breaker: 'open' });
      await second.engine.stop();
    });
  });
});

describe('engine: a module in WAT', () => {
  it('default: the store-probe module (hand-written WAT) reads and writes through the same host interfaces', async () => {
    // The deadline is far from the work (257 host calls): the signal under test is storeOps' (a fresh
    // clone's loaded run once passed the default 250 ms, and ExecutionTimeout outranks it).
    const { engine } = await engineWith([{ name: 'probe', component: fixture('store-probe'), grants: { store: true }, limits: { timeoutMs: 10_000 } }]);
    const event = (topic: string, n: number) => ({ tag: 'custom' as const, val: { topic, payload: 'x'.repeat(n) } });
    expect(await engine.deliver('probe', event('set', 3), { seq: 1 })).toMatchObject({ ok: true });
    expect(text(await engine.read('probe', bytes('probe')))).toBe('value');
    expect(await engine.deliver('probe', event('get', 300), { seq: 2 })).toMatchObject({ ok: false, signal: { name: 'HostLimitExceeded', limit: 'storeOps', max: 256, observed: 257 } });
    expect(await engine.cursor('probe')).toEqual({ seq: 1 });
    await engine.stop();
  });
});

describe('engine: per-invocation caps', () => {
  it.each([
    ['storeOps', { op: 'reads', n: 11 }, { storeOps: 10 }, 10, 11],
    ['storeBytesWritten', { op: 'big', bytes: 2_000 }, { storeBytesWritten: 1_000 }, 1_000, 2_003],
    ['logRecords', { op: 'logs', n: 6 }, { logRecords: 5 }, 5, 6],
    ['logBytes', { op: 'logs', n: 1, size: 300 }, { logBytes: 100 }, 100, 307],
    // 6 bytes already stored ('count' = '1'), plus 'big' (3) + 5,000.
    ['storedBytes', { op: 'big', bytes: 5_000 }, { storedBytes: 4_000 }, 4_000, 5_009],
  ] as const)('%s: trips HostLimitExceeded with its fields, state unchanged, next event fine', async (limit, command, caps, max, observed) => {
    const { engine, run, pastBackoff } = await engineWith([{ caps }]);
    await run('counter', { op: 'incr' });
    const outcome = await run('counter', command);
    const signal = signalOf(outcome);
    expect(signal).toBeInstanceOf(HostLimitExceeded);
    expect(signal).toMatchObject({ limit, max, observed });
    expect(await engine.cursor('counter')).toEqual({ seq: 1 });
    expect(await engine.read('counter', bytes('big'))).toBeUndefined();
    pastBackoff(); // the actor backs off after a signal
    expect(await run('counter', { op: 'incr' })).toMatchObject({ ok: true });
    expect(text(await engine.read('counter', bytes('count')))).toBe('2');
    await engine.stop();
  });
});

describe('engine: capabilities and manifests', () => {
  it('error: a component importing an interface its manifest does not grant is refused, naming it', async () => {
    const error = await engineWith([{ grants: { logging: true } }]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LoadError);
    expect(error).toMatchObject({ code: 'capability-not-granted', details: { interface: 'store' } });
  });

  it('error: a malformed manifest names each bad field', async () => {
    const error = await engineWith([{ name: 'Bad Name!', caps: { storeOps: -1 } as never }]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'invalid-manifest' });
    expect((error as LoadError).message).toContain('name');
    expect((error as LoadError).message).toContain('caps.storeOps');
  });

  it('error: a component that is not a corral module is refused', async () => {
    const error = await engineWith([{ component: fixture('compute') }]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'not-a-module' });
  });

  it('behavior: publish reaches the modules subscribed to the topic; logs are structured and carry the module', async () => {
    const { engine, records } = await engineWith([{ name: 'sub', topics: ['ticks'] }, { name: 'other', topics: ['else'] }]);
    await engine.publish('ticks', JSON.stringify({ op: 'logs', n: 1 }));
    await engine.publish('ticks', JSON.stringify({ op: 'incr' }));
    await engine.settled('sub');
    expect(text(await engine.read('sub', bytes('count')))).toBe('1');
    expect(await engine.read('other', bytes('count'))).toBeUndefined();
    expect(records.find((r) => r.guest === true)).toMatchObject({ module: 'sub', event: 'custom', msg: 'x', fields: { i: 0 }, invocationId: expect.any(String) });
    await engine.stop();
  });
});
