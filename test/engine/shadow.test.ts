import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.ts';
import { inspectState } from '../../src/cli/inspect.ts';
import { loadConfig } from '../../src/config/loadConfig.ts';
import { EngineError } from '../../src/errors/EngineError.ts';
import { LoadError } from '../../src/errors/LoadError.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { EngineMetrics } from '../../src/metrics/EngineMetrics.ts';
import { DEFAULT_SHADOW } from '../../src/limits/defaults.ts';
import { SHADOW_REPORT_KEY } from '../../src/store/reservedKeys.ts';
import { startAnvil } from '../anvil.ts';
import { fixture, newRuntime } from '../helpers.ts';
import { ORDER } from '../host/order.ts';
import { command, got, handled, msgProbe } from './messagesHarness.ts';

/**
 * Shadow runs (docs/shadow.md): the explorer fixture live, and beside it either itself (an identical
 * candidate) or explorer-shadow, which posts the same order selling twice the amount. One anvil (the
 * chain that names the order book), one local order book and one runtime for the file.
 */
const built = (name: string) => join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'build', `${name}.wasm`);
const CANDIDATE = built('explorer-shadow');
/** explorer with a `migrate` export (world `migratable-module`): it records `migrated-from`, and refuses a state holding a `count`. */
const MIGRATING = built('explorer-migrate');
const UID = `0x${'cd'.repeat(56)}`;

const runtime: Runtime = newRuntime();
let anvil: Awaited<ReturnType<typeof startAnvil>>;
let server: Server;
let orderbookUrl: string;
/** Orders the order book received (the request bodies, parsed). */
const posted: { sellAmount: string }[] = [];

beforeAll(async () => {
  anvil = await startAnvil();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/api/v1/orders' && req.method === 'POST') {
        posted.push(JSON.parse(body) as { sellAmount: string });
        return res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(UID));
      }
      res.writeHead(404).end('"no"');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  orderbookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await runtime.close();
  await anvil.stop();
  await new Promise((resolve) => server.close(resolve));
});

/** The explorer module with `candidate` as its shadow; `run` delivers a command, `result` reads what the module recorded. */
async function shadowed(candidate: string) {
  const stateDir = mkdtempSync(join(tmpdir(), 'corral-shadow-'));
  const grants = { store: true, logging: true, chain: { chains: [anvil.chainId] }, http: { hosts: [] }, cowApi: { chains: [anvil.chainId] } };
  const engine = await Engine.start({
    runtime,
    stateDir,
    logger: pino({ level: 'silent' }),
    clock: new ManualClock(),
    chains: { [anvil.chainId]: { rpcUrl: anvil.url, orderbookUrl } },
    modules: [{ name: 'explorer', component: fixture('explorer'), grants, limits: { fuel: 1e12, timeoutMs: 5_000 }, shadow: { component: candidate } }],
  });
  let seq = 0;
  const run = (command: object) => engine.deliver('explorer', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: ++seq });
  const result = async () => {
    const raw = await engine.read('explorer', new TextEncoder().encode('result'));
    return raw ? (JSON.parse(new TextDecoder().decode(raw)) as unknown) : undefined;
  };
  return { engine, run, result, stateDir };
}

describe('shadow runs', () => {
  it('default: a candidate identical to the live module reports no difference, and sends nothing', async () => {
    const { engine, run } = await shadowed(fixture('explorer'));
    const before = posted.length;
    try {
      expect(await run({ op: 'count' })).toMatchObject({ ok: true });
      expect(await run({ op: 'chain', chainId: anvil.chainId, method: 'eth_chainId' })).toMatchObject({ ok: true });
      expect(await run({ op: 'cow-submit', chainId: anvil.chainId, order: ORDER })).toMatchObject({ ok: true });
      expect(await run({ op: 'count' })).toMatchObject({ ok: true });
      await engine.shadowSettled('explorer');
      const report = engine.shadowReport('explorer')!;
      expect(report.steps).toEqual({ same: 4, different: 0, skipped: 0, failed: 0 });
      expect(report.differences).toEqual([]);
      // The live module's one order; the candidate's equal one was answered from it.
      expect(posted.length - before).toBe(1);
    } finally {
      await engine.stop();
    }
  });

  it('behavior: steps arriving back to back wait for a pause; each queued one reads the state it started from though later steps (skipped ones too) wrote since', async () => {
    const { engine, run } = await shadowed(fixture('explorer'));
    try {
      // Queued together: the live module runs them back to back, so its candidate starts only after
      // the last; by then the count is 12, and each shadowed step must still read its own start's count.
      const steps = Array.from({ length: 12 }, () => run({ op: 'count' }));
      for (const outcome of await Promise.all(steps)) expect(outcome).toMatchObject({ ok: true });
      await engine.shadowSettled('explorer');
      const report = engine.shadowReport('explorer')!;
      expect(report.steps).toEqual({ same: DEFAULT_SHADOW.queueSteps, different: 0, skipped: 12 - DEFAULT_SHADOW.queueSteps, failed: 0 });
      expect(new TextDecoder().decode(await engine.read('explorer', new TextEncoder().encode('count')))).toBe('12');
    } finally {
      await engine.stop();
    }
  });

  it('behavior: a candidate posting a different order reports that request as the first difference; nothing is sent and its writes never reach the store', async () => {
    const { engine, run, result } = await shadowed(CANDIDATE);
    const before = posted.length;
    try {
      expect(await run({ op: 'count' })).toMatchObject({ ok: true });
      expect(await run({ op: 'cow-submit', chainId: anvil.chainId, order: ORDER })).toMatchObject({ ok: true });
      await engine.shadowSettled('explorer');
      const report = engine.shadowReport('explorer')!;
      expect(report.steps).toEqual({ same: 1, different: 1, skipped: 0, failed: 0 });
      const metrics = new EngineMetrics(engine);
      const text = await metrics.text();
      metrics.close();
      expect(text).toMatch(/^corral_shadow_steps_total\{module="explorer",result="different"\} 1$/m);
      expect(text).toMatch(/^corral_shadow_steps_total\{module="explorer",result="same"\} 1$/m);
      expect(report.differences).toHaveLength(1);
      const [step] = report.differences;
      expect(step).toMatchObject({ step: 2, event: 'custom' });
      const [first, ...rest] = step!.differences;
      expect(first).toMatchObject({ kind: 'request', index: 0 });
      const order = (call: unknown) => JSON.parse((call as { args: [string, string] }).args[1]) as { sellAmount: string };
      expect(order(first!.live).sellAmount).toBe(ORDER.sellAmount);
      expect(order(first!.candidate).sellAmount).toBe(String(BigInt(ORDER.sellAmount) * 2n));
      // Its fault (the request was not sent) is what it recorded: a write that differs, after the request.
      expect(rest.map((d) => d.kind)).toContain('write');
      // Only the live module's order reached the order book.
      expect(posted.slice(before).map((o) => o.sellAmount)).toEqual([ORDER.sellAmount]);
      // The store holds the live module's answer, not the candidate's fault.
      expect(await result()).toEqual({ ok: UID });
    } finally {
      await engine.stop();
    }
  });

  it('behavior: the report is kept apart from the steps\' commits, and `corral inspect` shows it after a stop', async () => {
    const { engine, run, stateDir } = await shadowed(CANDIDATE);
    expect(await run({ op: 'cow-submit', chainId: anvil.chainId, order: ORDER })).toMatchObject({ ok: true });
    await engine.shadowSettled('explorer');
    // Not among the module's own keys (reserved), and not read by it.
    expect((await engine.entries('explorer')).some(([key]) => Buffer.from(key).equals(Buffer.from(SHADOW_REPORT_KEY)))).toBe(true);
    await engine.stop();
    const report = (await inspectState(stateDir)) as { modules: { name: string; shadow?: { steps: unknown; differences: { differences: { kind: string }[] }[] } }[] };
    const explorer = report.modules.find((m) => m.name === 'explorer')!;
    expect(explorer.shadow?.steps).toEqual({ same: 0, different: 1, skipped: 0, failed: 0 });
    expect(explorer.shadow?.differences[0]?.differences[0]?.kind).toBe('request');
  });

  it('behavior: promote runs the candidate\'s migrate once with the replaced version, commits its writes, and the candidate serves', async () => {
    const { engine, run } = await shadowed(MIGRATING);
    const read = async (key: string) => {
      const raw = await engine.read('explorer', new TextEncoder().encode(key));
      return raw && new TextDecoder().decode(raw);
    };
    try {
      expect(await engine.promote('explorer')).toEqual({ migrated: true });
      expect(await read('migrated-from')).toBe(createHash('sha256').update(readFileSync(fixture('explorer'))).digest('hex'));
      // The candidate is the module now, with no shadow of its own.
      expect(engine.shadowReport('explorer')).toBeUndefined();
      expect(await run({ op: 'count' })).toMatchObject({ ok: true });
      expect(await read('count')).toBe('1');
    } finally {
      await engine.stop();
    }
  });

  it('error: a migrate that answers err commits nothing and leaves the earlier version', async () => {
    const { engine, run } = await shadowed(MIGRATING);
    try {
      expect(await run({ op: 'count' })).toMatchObject({ ok: true });
      const error = await engine.promote('explorer').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect(error).toMatchObject({ code: 'migrate-failed', details: { module: 'explorer' } });
      expect(await engine.read('explorer', new TextEncoder().encode('migrated-from'))).toBeUndefined();
      // The earlier version serves, with its shadow.
      expect(engine.shadowReport('explorer')).toBeDefined();
      expect(await run({ op: 'count' })).toMatchObject({ ok: true });
      expect(new TextDecoder().decode(await engine.read('explorer', new TextEncoder().encode('count')))).toBe('2');
    } finally {
      await engine.stop();
    }
  });

  it('behavior: a candidate sending other messages reports that send as a difference; its message is never sent', async () => {
    const engine = await Engine.start({
      runtime,
      stateDir: mkdtempSync(join(tmpdir(), 'corral-shadow-messages-')),
      logger: pino({ level: 'silent' }),
      clock: new ManualClock(),
      modules: [msgProbe('a', { to: ['b'], shadow: { component: built('msg-probe-shadow') } }), msgProbe('b', { from: ['a'] })],
    });
    try {
      expect(await command(engine, 'a', { op: 'send', to: 'b', payloads: ['hello'] })).toMatchObject({ ok: true });
      await handled(engine, 'b', 'a', 1);
      await engine.shadowSettled('a');
      expect((await got(engine, 'b')).map((m) => m.payload)).toEqual(['hello']);
      const report = engine.shadowReport('a')!;
      expect(report.steps).toMatchObject({ same: 0, different: 1 });
      expect(report.differences[0]?.differences[0]).toMatchObject({ kind: 'request', index: 0 });
    } finally {
      await engine.stop();
    }
  });

  it('behavior: promote is a swap: every event published while it runs is handled, by one version or the other', async () => {
    // The candidate is the same counter: the count says how many events were handled.
    const counter = { name: 'counter', component: fixture('counter'), grants: { store: true, logging: true }, topics: ['cmd'], shadow: { component: fixture('counter') } };
    const engine = await Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-promote-')), logger: pino({ level: 'silent' }), clock: new ManualClock(), modules: [counter] });
    try {
      const incr = JSON.stringify({ op: 'incr' });
      let done = false;
      const promoted = engine.promote('counter').finally(() => (done = true));
      let published = 0;
      for (; !done && published < 500; published++) await engine.publish('cmd', incr);
      expect(await promoted).toEqual({ migrated: false });
      expect(published).toBeGreaterThan(0);
      await engine.settled('counter');
      expect(new TextDecoder().decode(await engine.read('counter', new TextEncoder().encode('count')))).toBe(String(published));
    } finally {
      await engine.stop();
    }
  });

  it('error: a candidate rebuilt after its shadow run is refused at promote (LoadError sha256-mismatch), and the earlier version serves on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-promote-pin-'));
    const candidate = join(dir, 'candidate.wasm');
    copyFileSync(fixture('counter'), candidate);
    const counter = { name: 'counter', component: fixture('counter'), grants: { store: true, logging: true }, topics: ['cmd'], shadow: { component: candidate } };
    const engine = await Engine.start({ runtime, stateDir: join(dir, 'state'), logger: pino({ level: 'silent' }), clock: new ManualClock(), modules: [counter] });
    try {
      copyFileSync(fixture('counter-v2'), candidate);
      const error = await engine.promote('counter').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LoadError);
      expect(error).toMatchObject({ code: 'sha256-mismatch' });
      // The earlier version (steps of one, with its shadow) serves.
      expect(engine.shadowReport('counter')).toBeDefined();
      await engine.publish('cmd', JSON.stringify({ op: 'incr' }));
      await engine.settled('counter');
      expect(new TextDecoder().decode(await engine.read('counter', new TextEncoder().encode('count')))).toBe('1');
    } finally {
      await engine.stop();
    }
  });

  it('args: engine.toml\'s [modules.shadow] component is resolved from the file\'s directory, with the default fuel tolerance', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-shadow-config-'));
    writeFileSync(join(dir, 'engine.toml'), `[[modules]]\nname = "w"\ncomponent = "${fixture('watcher')}"\n[modules.shadow]\ncomponent = "next/watcher.wasm"\n`);
    const { config } = await loadConfig(join(dir, 'engine.toml'), {});
    expect(config.modules[0]!.shadow).toEqual({ component: join(dir, 'next', 'watcher.wasm'), fuelTolerance: 0.1 });
  });
});
