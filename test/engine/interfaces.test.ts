import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadError, type ModuleManifest, type Runtime } from '../../src/index.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { startAnvil } from '../anvil.ts';
import { expectCapTripped, explorerEngine } from './explorerEngine.ts';
import { newRuntime } from '../helpers.ts';

const runtime: Runtime = newRuntime();
let anvil: Awaited<ReturnType<typeof startAnvil>>;
let server: Server;
let httpHost: string;

beforeAll(async () => {
  anvil = await startAnvil();
  server = createServer((req, res) => {
    if (req.url === '/big') res.end('x'.repeat(10_000));
    else if (req.url === '/never') req.on('close', () => res.destroy()); // never answers
    else res.end(`hello ${req.method} ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  httpHost = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await runtime.close();
  await anvil.stop();
  await new Promise((resolve) => server.close(resolve));
});

function explorer(overrides: Partial<ModuleManifest> = {}) {
  return explorerEngine(runtime, { chainId: anvil.chainId, rpcUrl: anvil.url }, { store: true, logging: true, chain: { chains: [anvil.chainId] }, http: { hosts: [httpHost] }, cowApi: { chains: [] } }, overrides);
}

describe('chain (anvil on loopback) and http (local server), from a JavaScript guest', () => {
  it('default: every interface end to end: chain read, http fetch, store, logging; RPC accounted per method', async () => {
    const { engine, run, result } = await explorer();
    expect(await run({ op: 'chain', chainId: anvil.chainId, method: 'eth_chainId' })).toMatchObject({ ok: true });
    expect(await result()).toEqual({ ok: JSON.stringify('0x7a69') });
    await run({ op: 'chain', chainId: anvil.chainId, method: 'eth_getBalance', params: ['0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', 'latest'] });
    expect(BigInt(JSON.parse((await result()).ok))).toBeGreaterThan(0n);
    expect(await run({ op: 'http', url: `http://${httpHost}/path?q=1` })).toMatchObject({ ok: true });
    expect(await result()).toEqual({ ok: { status: 200, body: 'hello GET /path?q=1' } });
    await run({ op: 'count' });
    expect(new TextDecoder().decode(await engine.read('explorer', new TextEncoder().encode('count')))).toBe('1');
    expect(engine.rpcStats().modules.explorer).toMatchObject({ eth_chainId: { calls: 1, bytes: 8 }, eth_getBalance: { calls: 1 } });
    await engine.stop();
  });

  // Asserted by the fault's tag and by the RPC accounting (what reached the node, what was refused and
  // under which name), not by the fault's wording. A method corral does not know is counted as
  // `(other)`: a guest cannot mint accounting keys.
  it.each([
    ['an undeclared chain', { op: 'chain', chainId: 1, method: 'eth_blockNumber' }, undefined],
    ['a method off the allowlist', { op: 'chain', chainId: 31337, method: 'eth_sendTransaction', params: [{}] }, { '(other)': { calls: 0, bytes: 0, failed: 0, denied: 1, cached: 0 } }],
    ['an anvil cheat method', { op: 'chain', chainId: 31337, method: 'anvil_setBalance', params: [] }, { '(other)': { calls: 0, bytes: 0, failed: 0, denied: 1, cached: 0 } }],
  ])('error: %s is a denied fault, not a crash, and nothing reaches the node', async (_what, command, accounted) => {
    const { engine, run, result } = await explorer();
    expect(await run(command)).toMatchObject({ ok: true });
    const { fault } = await result();
    expect(fault).toMatchObject({ tag: 'denied', val: expect.any(String) });
    expect(engine.rpcStats().modules.explorer).toEqual(accounted);
    await engine.stop();
  });

  it('error: a request the node answers with an error is an upstream fault holding the error object, counted as failed under its method', async () => {
    const { engine, run, result } = await explorer();
    await run({ op: 'chain', chainId: anvil.chainId, method: 'eth_getBalance', params: ['not-an-address', 'latest'] });
    const { fault } = await result();
    expect(fault).toMatchObject({ tag: 'upstream' });
    expect(JSON.parse(fault.val)).toMatchObject({ code: expect.any(Number), message: expect.any(String) });
    expect(engine.rpcStats().modules.explorer).toEqual({ eth_getBalance: { calls: 1, bytes: 0, failed: 1, denied: 0, cached: 0 } });
    expect(engine.rpcStats().chains[String(anvil.chainId)]!.module).toEqual({ eth_getBalance: { calls: 1, bytes: 0, failed: 1, denied: 0, cached: 0 } });
    await engine.stop();
  });

  it('error: a host outside the grant, and a granted name that resolves to loopback, are denied', async () => {
    const port = httpHost.split(':')[1];
    const { engine, run, result } = await explorer({
      grants: { store: true, logging: true, chain: { chains: [31337] }, http: { hosts: [`localhost:${port}`] }, cowApi: { chains: [] } },
    });
    await run({ op: 'http', url: `http://127.0.0.2:${port}/` });
    expect((await result()).fault).toMatchObject({ tag: 'denied', val: expect.stringMatching(/not granted/) });
    await run({ op: 'http', url: `http://localhost:${port}/` });
    expect((await result()).fault).toMatchObject({ tag: 'denied', val: expect.stringMatching(/internal address/) });
    await engine.stop();
  });

  it('behavior: a granted host *name* is fetched by name (resolved once, connected to the address that was checked)', async () => {
    // localhost resolves to loopback: the grant lists that address too, as an internal one must be.
    const port = httpHost.split(':')[1];
    const { engine, run, result } = await explorer({
      grants: { store: true, logging: true, chain: { chains: [31337] }, http: { hosts: [`localhost:${port}`, `127.0.0.1:${port}`] }, cowApi: { chains: [] } },
    });
    await run({ op: 'http', url: `http://localhost:${port}/by-name` });
    expect(await result()).toMatchObject({ ok: { status: 200 } });
    await engine.stop();
  });

  it.each([
    ['chainRequests', { op: 'chain-loop', chainId: 31337 }, { chainRequests: 3 }, 3, 4],
    ['rpcResponseBytes', { op: 'chain', chainId: 31337, method: 'eth_getBlockByNumber', params: ['latest', false] }, { rpcResponseBytes: 100 }, 100, undefined],
    ['httpResponseBytes', { op: 'http', url: 'BIG' }, { httpResponseBytes: 1_000 }, 1_000, undefined],
    ['httpFetches', { op: 'http-loop', url: 'ANY' }, { httpFetches: 2 }, 2, 3],
    ['httpRequestBytes', { op: 'http', url: 'ANY', method: 'POST', body: 'y'.repeat(2_000) }, { httpRequestBytes: 1_000 }, 1_000, 2_000],
  ] as const)('caps: %s trips HostLimitExceeded, state unchanged, next event fine', async (limit, command, caps, max, observed) => {
    const { engine, run, pastBackoff } = await explorer({ caps });
    const effective = 'url' in command ? { ...command, url: `http://${httpHost}/${command.url === 'BIG' ? 'big' : 'any'}` } : command;
    const outcome = await run(effective);
    expectCapTripped(outcome, limit, max, observed);
    expect(await engine.cursor('explorer')).toBeUndefined();
    pastBackoff();
    expect(await run({ op: 'count' })).toMatchObject({ ok: true });
    expect(await engine.cursor('explorer')).toEqual({ seq: 2 });
    await engine.stop();
  });

  it('error: a server that does not answer within httpTimeoutMs is an upstream fault', async () => {
    const { engine, run, result } = await explorer({ caps: { httpTimeoutMs: 50 } });
    expect(await run({ op: 'http', url: `http://${httpHost}/never` })).toMatchObject({ ok: true });
    expect((await result()).fault).toMatchObject({ tag: 'upstream', val: expect.stringMatching(/no answer within 50 ms/) });
    await engine.stop();
  });

  it('error: importing chain without a chain grant is refused at load, naming the interface', async () => {
    const error = await explorer({ grants: { store: true, logging: true, http: { hosts: [httpHost] }, cowApi: { chains: [] } } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LoadError);
    expect(error).toMatchObject({ code: 'capability-not-granted', details: { interface: 'chain' } });
  });

  it('error: an endpoint serving another chain id is refused at start', async () => {
    const error = await Engine.start({
      runtime,
      stateDir: mkdtempSync(join(tmpdir(), 'corral-state-')),
      logger: pino({ level: 'silent' }),
      chains: { '1': { rpcUrl: anvil.url } },
      modules: [],
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(/serves chain 31337/);
  });
});
