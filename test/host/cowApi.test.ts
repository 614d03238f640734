import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChainConfig, type ModuleManifest, type Runtime } from '../../src/index.ts';
import { startAnvil } from '../anvil.ts';
import { expectCapTripped, explorerEngine } from '../engine/explorerEngine.ts';
import { newRuntime } from '../helpers.ts';
import { ORDER as WELL_FORMED_ORDER } from './order.ts';

/** What the order book server received. */
interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const UID = `0x${'ab'.repeat(56)}`;
const ORDER = { ...WELL_FORMED_ORDER, quoteId: 42 }; // quoteId: not checked by corral, passed through
const DUPLICATED = '{"errorType":"DuplicatedOrder","description":"order already exists"}';
const NOT_FOUND = '{"errorType":"NotFound","description":"Order was not found"}';

const runtime: Runtime = newRuntime();
let anvil: Awaited<ReturnType<typeof startAnvil>>;
let server: Server;
let orderbookUrl: string;
const received: Received[] = [];
const signatures = new Set<string>();

beforeAll(async () => {
  anvil = await startAnvil();
  // An order book under a base path, as api.cow.fi serves each chain (`/mainnet/api/v1/…`).
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const json = (status: number, text: string) => res.writeHead(status, { 'content-type': 'application/json' }).end(text);
      if (req.url === '/mainnet/api/v1/orders' && req.method === 'POST') {
        const { signature } = JSON.parse(body) as { signature: string };
        if (signatures.has(signature)) return json(400, DUPLICATED);
        signatures.add(signature);
        return json(201, JSON.stringify(UID));
      }
      if (req.url === '/mainnet/api/v1/big') return json(200, JSON.stringify('x'.repeat(10_000)));
      if (req.url === '/mainnet/api/v1/never') return req.socket.on('close', () => res.destroy());
      if (req.url?.startsWith('/mainnet/api/v1/orders/0xmissing')) return json(404, NOT_FOUND);
      if (req.url?.startsWith('/mainnet/api/')) return json(200, JSON.stringify({ method: req.method, url: req.url }));
      json(418, '"not the API"');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  orderbookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mainnet`;
});
afterAll(async () => {
  await runtime.close();
  await anvil.stop();
  await new Promise((resolve) => server.close(resolve));
});

/** The explorer module in an engine whose anvil chain has `orderbookUrl` (unless `chain` says otherwise). */
async function explorer(overrides: Partial<ModuleManifest> = {}, chain: Partial<ChainConfig> = {}) {
  const grants = { store: true, logging: true, chain: { chains: [] }, http: { hosts: [] }, cowApi: { chains: [anvil.chainId] } };
  const loaded = await explorerEngine(runtime, { chainId: anvil.chainId, rpcUrl: anvil.url, orderbookUrl, ...chain }, grants, overrides);
  /** The engine handles a following event, and commits it. */
  const serves = async () => {
    expect(await loaded.run({ op: 'count' })).toMatchObject({ ok: true });
    expect(await loaded.engine.cursor('explorer')).toEqual({ seq: loaded.sequence() });
  };
  return { ...loaded, serves };
}

const withoutSignature = Object.fromEntries(Object.entries(ORDER).filter(([key]) => key !== 'signature'));

describe('cow-api (a local order book), from a JavaScript guest', () => {
  it('default: a REST GET goes to the chain\'s base URL + path, query kept, and comes back as a response', async () => {
    const { engine, run, result, serves } = await explorer();
    expect(await run({ op: 'cow', chainId: anvil.chainId, path: '/api/v1/orders/0xabc?limit=1' })).toMatchObject({ ok: true });
    expect(await result()).toEqual({ ok: { status: 200, body: JSON.stringify({ method: 'GET', url: '/mainnet/api/v1/orders/0xabc?limit=1' }) } });
    expect(received.at(-1)).toMatchObject({ method: 'GET', url: '/mainnet/api/v1/orders/0xabc?limit=1', body: '' });
    await serves();
    await engine.stop();
  });

  it('behavior: a 4xx answer is a response, its body verbatim', async () => {
    const { engine, run, result, serves } = await explorer();
    await run({ op: 'cow', chainId: anvil.chainId, method: 'DELETE', path: '/api/v1/orders/0xmissing', body: '{"signature":"0x"}' });
    expect(await result()).toEqual({ ok: { status: 404, body: NOT_FOUND } });
    expect(received.at(-1)).toMatchObject({ method: 'DELETE', body: '{"signature":"0x"}', headers: { 'content-type': 'application/json' } });
    await serves();
    await engine.stop();
  });

  it('behavior: submit-order posts the order as written (extra fields too) and returns the uid the order book answered', async () => {
    const { engine, run, result, serves } = await explorer();
    const order = { ...ORDER, signature: `0x${'01'.repeat(65)}` };
    await run({ op: 'cow-submit', chainId: anvil.chainId, order });
    expect(await result()).toEqual({ ok: UID });
    const posted = received.at(-1)!;
    expect(posted).toMatchObject({ method: 'POST', url: '/mainnet/api/v1/orders', headers: { 'content-type': 'application/json' } });
    expect(JSON.parse(posted.body)).toEqual(order);
    await serves();
    await engine.stop();
  });

  it('behavior: appData may be the app data document (a JSON string) instead of its hash', async () => {
    const { engine, run, result } = await explorer();
    await run({ op: 'cow-submit', chainId: anvil.chainId, order: { ...ORDER, signature: `0x${'02'.repeat(65)}`, appData: '{"version":"1.1.0","metadata":{}}' } });
    expect(await result()).toEqual({ ok: UID });
    await engine.stop();
  });

  it('error: a DuplicatedOrder answer is an upstream fault carrying the body verbatim', async () => {
    const { engine, run, result, serves } = await explorer();
    const order = { ...ORDER, signature: `0x${'03'.repeat(65)}` };
    await run({ op: 'cow-submit', chainId: anvil.chainId, order });
    expect(await result()).toEqual({ ok: UID });
    await run({ op: 'cow-submit', chainId: anvil.chainId, order });
    expect(await result()).toEqual({ fault: { tag: 'upstream', val: DUPLICATED } });
    await serves();
    await engine.stop();
  });

  it.each([
    ['text that is not JSON', 'not json{', 'order-json: a JSON object'],
    ['a JSON array', [ORDER], 'order-json: a JSON object'],
    ['a bad sellAmount', { ...ORDER, sellAmount: '1.5' }, 'sellAmount: a decimal integer string'],
    ['a buyAmount of 2^256', { ...ORDER, buyAmount: String(2n ** 256n) }, 'buyAmount: a decimal integer string'],
    ['a missing signature', withoutSignature, 'signature: a 0x hex string of even length (missing)'],
    ['an odd-length signature', { ...ORDER, signature: '0x123' }, 'signature: a 0x hex string of even length'],
    ['a short sellToken', { ...ORDER, sellToken: '0x1234' }, 'sellToken: a 20-byte 0x hex address'],
    ['a validTo past 2^32 - 1', { ...ORDER, validTo: 2 ** 32 }, 'validTo: an integer from 0 to 4294967295'],
    ['an unknown kind', { ...ORDER, kind: 'limit' }, 'kind: one of "sell", "buy"'],
    ['an unknown buyTokenBalance', { ...ORDER, buyTokenBalance: 'external' }, 'buyTokenBalance: one of "erc20", "internal"'],
    ['appData that is neither a hash nor JSON', { ...ORDER, appData: '0x12' }, 'appData: a 0x hex 32-byte hash or a JSON document string'],
  ])('error: %s is an invalid-input fault naming the field, and nothing reaches the order book', async (_what, order, message) => {
    const { engine, run, result, serves } = await explorer();
    const before = received.length;
    expect(await run({ op: 'cow-submit', chainId: anvil.chainId, order })).toMatchObject({ ok: true });
    const { fault } = await result();
    expect(fault.tag).toBe('invalid-input');
    expect(fault.val).toContain(message);
    expect(received.length).toBe(before);
    await serves();
    await engine.stop();
  });

  it.each([
    ['/../admin', 'must start with /api/'],
    ['http://evil/', 'must start with /api/'],
    ['/other', 'must start with /api/'],
    ['/api/../admin', '. or .. segments'],
    ['/api/%2E%2e/admin', '. or .. segments'],
    ['/api//evil.example/x', 'must not contain //'],
    ['/api/v1\\..\\..\\admin', 'backslash'],
    ['/api/v1/orders#x', 'fragment'],
    ['/api/v1/orders x', 'whitespace or control characters'],
    ['/api/v1/orders\n', 'whitespace or control characters'],
  ])('error: the path %j is an invalid-input fault saying what is wrong, and nothing is sent', async (path, message) => {
    const { engine, run, result, serves } = await explorer();
    const before = received.length;
    await run({ op: 'cow', chainId: anvil.chainId, path });
    const { fault } = await result();
    expect(fault).toMatchObject({ tag: 'invalid-input', val: expect.stringContaining(message) });
    expect(received.length).toBe(before);
    await serves();
    await engine.stop();
  });

  it('error: a method other than GET, POST, PUT or DELETE, and a body that is not JSON, are invalid-input', async () => {
    const { engine, run, result, serves } = await explorer();
    const before = received.length;
    await run({ op: 'cow', chainId: anvil.chainId, method: 'PATCH', path: '/api/v1/orders' });
    expect((await result()).fault).toMatchObject({ tag: 'invalid-input', val: expect.stringContaining('GET, POST, PUT or DELETE') });
    await run({ op: 'cow', chainId: anvil.chainId, method: 'POST', path: '/api/v1/quote', body: '{nope' });
    expect((await result()).fault).toMatchObject({ tag: 'invalid-input', val: expect.stringContaining('body must be JSON') });
    expect(received.length).toBe(before);
    await serves();
    await engine.stop();
  });

  it('error: a chain outside the grant, and a granted chain without orderbook_url, are denied faults naming the chain', async () => {
    const first = await explorer();
    await first.run({ op: 'cow', chainId: 1, path: '/api/v1/version' });
    expect((await first.result()).fault).toMatchObject({ tag: 'denied', val: expect.stringContaining('chain 1 ') });
    await first.run({ op: 'cow-submit', chainId: 1, order: ORDER });
    expect((await first.result()).fault).toMatchObject({ tag: 'denied', val: expect.stringContaining('chain 1 ') });
    await first.serves();
    await first.engine.stop();

    const second = await explorer({}, { orderbookUrl: undefined });
    await second.run({ op: 'cow', chainId: anvil.chainId, path: '/api/v1/version' });
    expect((await second.result()).fault).toMatchObject({ tag: 'denied', val: `chain ${anvil.chainId} has no orderbook_url configured` });
    await second.serves();
    await second.engine.stop();
  });

  it.each([
    ['httpFetches', { op: 'cow-loop', path: '/api/v1/version' }, { httpFetches: 2 }, 2, 3],
    ['httpResponseBytes', { op: 'cow', path: '/api/v1/big' }, { httpResponseBytes: 1_000 }, 1_000, undefined],
    ['httpRequestBytes', { op: 'cow', method: 'POST', path: '/api/v1/quote', body: JSON.stringify('y'.repeat(2_000)) }, { httpRequestBytes: 1_000 }, 1_000, 2_002],
    ['httpRequestBytes', { op: 'cow-submit', order: { ...ORDER, extra: 'y'.repeat(2_000) } }, { httpRequestBytes: 1_000 }, 1_000, undefined],
  ] as const)('caps: %s (as for http) trips HostLimitExceeded, state unchanged, next event fine', async (limit, command, caps, max, observed) => {
    const { engine, run, serves, pastBackoff } = await explorer({ caps });
    const outcome = await run({ ...command, chainId: anvil.chainId });
    expectCapTripped(outcome, limit, max, observed);
    expect(await engine.cursor('explorer')).toBeUndefined();
    pastBackoff();
    await serves();
    await engine.stop();
  });

  it('error: an order book that does not answer within httpTimeoutMs, or cannot be reached, is an upstream fault', async () => {
    const slow = await explorer({ caps: { httpTimeoutMs: 50 } });
    await slow.run({ op: 'cow', chainId: anvil.chainId, path: '/api/v1/never' });
    expect((await slow.result()).fault).toMatchObject({ tag: 'upstream', val: expect.stringContaining('no answer within 50 ms') });
    await slow.serves();
    await slow.engine.stop();

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const gone = await explorer({}, { orderbookUrl: `http://127.0.0.1:${port}` });
    await gone.run({ op: 'cow-submit', chainId: anvil.chainId, order: ORDER });
    expect((await gone.result()).fault).toMatchObject({ tag: 'upstream', val: expect.stringContaining('ECONNREFUSED') });
    await gone.serves();
    await gone.engine.stop();
  });
});
