import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import type { ChainConfig, ModuleManifest } from '../../src/index.ts';
import { EngineMetrics, serveMetrics, type EngineMetricsOptions } from '../../src/metrics/EngineMetrics.ts';
import type { Readiness } from '../../src/metrics/readiness.ts';
import { startAnvil, type Anvil } from '../anvil.ts';
import { deployEmitter } from '../emitter.ts';
import { captureLogger } from '../helpers.ts';
import { chainTestbed, watcherManifest } from '../integration/chainHarness.ts';
import { startRpcProxy } from '../integration/rpcProxy.ts';

const testbed = chainTestbed();
const CHAIN = 31337;

const readyz = async (url: string): Promise<{ status: number; body: Readiness }> => {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as Readiness };
};

/** One series of the Prometheus text, or undefined. */
const series = async (url: string, name: string): Promise<number | undefined> => {
  const line = (await (await fetch(`${url}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

/** What each test started, stopped after it whatever it asserted. */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An engine (on `chain` when given) served with `/readyz`. */
async function served(modules: Partial<ModuleManifest>[], chain: ChainConfig | undefined, options: EngineMetricsOptions = {}) {
  const { logger } = captureLogger();
  const engine = await Engine.start({
    runtime: testbed.runtime,
    stateDir: mkdtempSync(join(tmpdir(), 'corral-readyz-')),
    logger: logger as Logger,
    ...(chain ? { chains: { [CHAIN]: chain } } : {}),
    modules: modules.map(watcherManifest),
  });
  const metrics = new EngineMetrics(engine, options);
  const server = await serveMetrics(metrics, '127.0.0.1:0');
  cleanups.push(async () => {
    await server.close();
    metrics.close();
    await engine.stop();
  });
  return { engine, url: server.url };
}

/** An HTTP JSON-RPC proxy that forwards each request to whatever node `target()` names at the time. */
async function startSwitchProxy(target: () => string) {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    try {
      const answer = await fetch(target(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) });
      res.setHeader('content-type', 'application/json');
      res.end(await answer.text());
    } catch {
      res.statusCode = 502; // the node is gone (a test ending)
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Resolves when the engine's followed chain has block `number` (subscribe before causing it). */
const headAt = (engine: Engine, number: bigint) => firstValueFrom(engine.blocks$(CHAIN).pipe(filter((b) => b.number >= number)));

// Anvil, a fork and real engines on a machine shared with others: generous, as waits are on events.
describe('/readyz on a real chain', { timeout: 180_000 }, () => {
  it('behavior: a reorg deeper than reorg_window halts the module: 503 naming it `halted`; once the node is back on the chain it handled and engine.restart(name), 200 again', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    let fork: Anvil | undefined;
    cleanups.push(async () => void (await fork?.stop()));
    let target = testbed.anvil.url;
    const proxy = await startSwitchProxy(() => target);
    cleanups.push(proxy.close);
    const { engine, url } = await served([{ name: 'near', startBlock: Number(emitter.deployedAt) + 1, triggers: [{ kind: 'log', chain: CHAIN, address: emitter.address }] }], { rpcUrl: proxy.url, pollIntervalMs: 20, reorgWindow: 4 });
    const base = await emitter.emit(1, 1);
    // A node that forked at `base`: its own blocks above it are the branch the engine will be switched to.
    fork = await startAnvil({ args: ['--fork-url', testbed.anvil.url, '--fork-block-number', String(base)] });
    let last = base;
    for (let i = 0; i < 6; i++) last = await emitter.emit(1, 1);
    await engine.reached('near', CHAIN, last);
    expect(await readyz(url)).toEqual({ status: 200, body: { ready: true, notReady: [] } });
    expect(await series(url, `corral_reorgs_beyond_window_total{module="near",chain="${CHAIN}"}`)).toBe(0);

    // The engine's node moves to the fork: the 6 blocks the module handled are gone, 4 could be undone.
    for (let i = 0; i < 8; i++) await fork.rpc('evm_mine', []);
    const halted = firstValueFrom(engine.signals$.pipe(filter((s) => s.type === 'Stopped' && s.actor === 'near')));
    target = fork.url;
    expect(await halted).toMatchObject({ reason: 'halted' });
    expect(await readyz(url)).toEqual({ status: 503, body: { ready: false, notReady: [{ module: 'near', reason: 'halted' }] } });
    expect(await series(url, 'corral_ready')).toBe(0);
    expect(await series(url, 'corral_module_not_ready{module="near",reason="halted"}')).toBe(1);
    expect(await series(url, `corral_reorgs_beyond_window_total{module="near",chain="${CHAIN}"}`)).toBe(1);

    // The operator's fix: the node is back on the chain the module handled, which grew past the fork's tip.
    let next = last;
    for (let i = 0; i < 3; i++) next = await emitter.emit(2, 1);
    const followed = headAt(engine, next);
    target = testbed.anvil.url;
    await followed;
    engine.restart('near');
    await engine.reached('near', CHAIN, next);
    expect(await readyz(url)).toEqual({ status: 200, body: { ready: true, notReady: [] } });
    expect(await series(url, 'corral_ready')).toBe(1);
    expect(await series(url, `corral_reorgs_beyond_window_total{module="near",chain="${CHAIN}"}`)).toBe(1);
  });

  it('behavior: a module that caught up and falls more than max_lag_blocks behind is `lagging` (503 with its lag), and ready again once it catches up', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    let failLogs = false;
    // eth_getLogs fails while `failLogs`: heads still arrive, the module's feed cannot move.
    const proxy = await startRpcProxy(testbed.anvil.url, (request, response) =>
      failLogs && request.method === 'eth_getLogs' ? { ...response, result: undefined, error: { code: -32603, message: 'held back by the test' } } : response,
    );
    cleanups.push(proxy.close);
    const { engine, url } = await served(
      [{ name: 'w', startBlock: Number(emitter.deployedAt) + 1, triggers: [{ kind: 'log', chain: CHAIN, address: emitter.address }] }],
      { rpcUrl: proxy.url, pollIntervalMs: 20 },
      { readiness: { maxLagBlocks: 2 } },
    );
    let last = await emitter.emit(1, 1);
    await engine.reached('w', CHAIN, last);
    expect(await readyz(url)).toEqual({ status: 200, body: { ready: true, notReady: [] } });

    failLogs = true;
    const behind = last;
    const followed = headAt(engine, behind + 3n);
    for (let i = 0; i < 3; i++) last = await emitter.emit(1, 1);
    await followed;
    expect(await readyz(url)).toEqual({ status: 503, body: { ready: false, notReady: [{ module: 'w', chain: String(CHAIN), reason: 'lagging', lagBlocks: 3, maxLagBlocks: 2 }] } });
    expect(await series(url, 'corral_module_not_ready{module="w",reason="lagging"}')).toBe(1);

    failLogs = false;
    await engine.reached('w', CHAIN, last);
    expect(await readyz(url)).toEqual({ status: 200, body: { ready: true, notReady: [] } });
  });

  it('behavior: a configured chain with no head yet is `no-head` (even for a module on another trigger), and ready once heads arrive and the module reached them', async () => {
    let noHeads = true;
    // The node answers eth_chainId (the engine checks it at start) but nothing else while `noHeads`.
    const proxy = await startRpcProxy(testbed.anvil.url, (request, response) =>
      noHeads && request.method !== 'eth_chainId' ? { ...response, result: undefined, error: { code: -32603, message: 'no heads yet' } } : response,
    );
    cleanups.push(proxy.close);
    const { engine, url } = await served(
      [
        { name: 'blocks', triggers: [{ kind: 'block', chain: CHAIN }] },
        { name: 'app', triggers: [{ kind: 'custom', topic: 'tick' }] },
      ],
      { rpcUrl: proxy.url, pollIntervalMs: 20 },
    );
    expect(await readyz(url)).toEqual({ status: 503, body: { ready: false, notReady: [{ chain: String(CHAIN), reason: 'no-head' }] } });
    expect(await series(url, `corral_chain_not_ready{chain="${CHAIN}",reason="no-head"}`)).toBe(1);

    const head = firstValueFrom(engine.blocks$(CHAIN));
    noHeads = false;
    const first = await head;
    await engine.reached('blocks', CHAIN, first.number);
    expect(await readyz(url)).toEqual({ status: 200, body: { ready: true, notReady: [] } });
    expect(await series(url, `corral_chain_not_ready{chain="${CHAIN}",reason="no-head"}`)).toBeUndefined();
  });

  it('behavior: a chain with no new head for max_head_age_ms (on the clock passed in) is `chain-stalled`, and ready again at the next head', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const clock = new ManualClock(1_000);
    const { engine, url } = await served([{ name: 'w', startBlock: Number(emitter.deployedAt) + 1, triggers: [{ kind: 'log', chain: CHAIN, address: emitter.address }] }], { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, { clock, readiness: { maxHeadAgeMs: 60_000 } });
    const followed = headAt(engine, emitter.deployedAt + 1n);
    const first = await emitter.emit(1, 1);
    await followed;
    await engine.reached('w', CHAIN, first);
    clock.advance(60_000);
    expect(await readyz(url)).toEqual({ status: 200, body: { ready: true, notReady: [] } });
    expect(await series(url, `corral_chain_head_age_seconds{chain="${CHAIN}"}`)).toBe(60);

    clock.advance(1);
    expect(await readyz(url)).toEqual({ status: 503, body: { ready: false, notReady: [{ chain: String(CHAIN), reason: 'chain-stalled', headAgeMs: 60_001 }] } });
    expect(await series(url, `corral_chain_not_ready{chain="${CHAIN}",reason="chain-stalled"}`)).toBe(1);

    const next = headAt(engine, first + 1n);
    await emitter.emit(1, 1);
    await next;
    expect(await readyz(url)).toEqual({ status: 200, body: { ready: true, notReady: [] } });
  });

  it('behavior: an engine with no chain configured is ready on its modules alone', async () => {
    const { url } = await served([{ name: 'app', triggers: [{ kind: 'custom', topic: 'tick' }] }], undefined);
    expect(await readyz(url)).toEqual({ status: 200, body: { ready: true, notReady: [] } });
    expect(await series(url, 'corral_ready')).toBe(1);
  });
});
