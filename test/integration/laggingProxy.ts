import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How a proxied endpoint misbehaves. `healthy`: passes everything on. `erroring`: answers `eth_chainId`
 * (it is the right chain) and -32603 to everything else; `http500`: the same with HTTP 500. `lagging`:
 * a node held `lag` blocks behind the real head, the way a bad one is: `latest` and `eth_blockNumber`
 * are its own head, a block above it is `null`, logs above it are not there (an empty or cut list,
 * no error), a state read at a block above it is "header not found".
 */
export type ProxyMode = 'healthy' | 'erroring' | 'http500' | { lag: number };

interface RpcRequest {
  id: unknown;
  jsonrpc: string;
  method: string;
  params?: unknown[];
}

/**
 * An HTTP JSON-RPC endpoint in front of `target` (a real node) that behaves as `mode` says, and counts
 * what reached it by method. `latencyMs`: each answer is held this long (a far node; the pool ranks by
 * latency, so a test can make the misbehaving endpoints the preferred ones).
 */
export async function startLaggingProxy(target: string, mode: ProxyMode, latencyMs = 0) {
  const counts: Record<string, number> = {};
  const upstream = async (method: string, params: unknown[] = []): Promise<{ result?: unknown; error?: unknown }> =>
    (await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })).json() as Promise<{ result?: unknown; error?: unknown }>;
  const answer = async (request: RpcRequest): Promise<unknown> => {
    counts[request.method] = (counts[request.method] ?? 0) + 1;
    const reply = (body: { result?: unknown; error?: unknown }) => ({ jsonrpc: '2.0', id: request.id, ...body });
    if (mode === 'erroring' && request.method !== 'eth_chainId') return reply({ error: { code: -32603, message: 'internal error' } });
    if (mode === 'healthy' || mode === 'erroring' || mode === 'http500') return reply(await upstream(request.method, request.params));
    const real = BigInt((await upstream('eth_blockNumber')).result as string);
    const head = real - BigInt(mode.lag) < 0n ? 0n : real - BigInt(mode.lag);
    const hex = (n: bigint) => `0x${n.toString(16)}`;
    const params = request.params ?? [];
    const numberOfHash = async (hash: unknown) => {
      const block = (await upstream('eth_getBlockByHash', [hash, false])).result as { number: string } | null;
      return block ? BigInt(block.number) : undefined;
    };
    switch (request.method) {
      case 'eth_blockNumber':
        return reply({ result: hex(head) });
      case 'eth_getBlockByNumber': {
        const tag = params[0];
        if (tag === 'latest' || tag === 'pending' || tag === 'safe' || tag === 'finalized') return reply(await upstream(request.method, [hex(head), ...params.slice(1)]));
        if (typeof tag === 'string' && BigInt(tag) > head) return reply({ result: null });
        return reply(await upstream(request.method, params));
      }
      case 'eth_getBlockByHash': {
        const number = await numberOfHash(params[0]);
        return reply(number === undefined || number > head ? { result: null } : await upstream(request.method, params));
      }
      case 'eth_getLogs': {
        const filter = params[0] as { blockHash?: string; fromBlock?: string; toBlock?: string };
        if (filter.blockHash !== undefined) {
          const number = await numberOfHash(filter.blockHash);
          if (number === undefined || number > head) return reply({ result: [] });
          return reply(await upstream(request.method, params));
        }
        const to = filter.toBlock === undefined || filter.toBlock === 'latest' ? head : BigInt(filter.toBlock);
        const from = filter.fromBlock === undefined || filter.fromBlock === 'latest' ? head : BigInt(filter.fromBlock);
        if (from > head) return reply({ result: [] });
        return reply(await upstream(request.method, [{ ...filter, fromBlock: hex(from), toBlock: hex(to > head ? head : to) }]));
      }
      default: {
        const block = params[params.length - 1] as { blockHash?: string } | string | undefined;
        const number = typeof block === 'object' && block !== null && block.blockHash ? await numberOfHash(block.blockHash) : typeof block === 'string' && /^0x/.test(block) && block.length < 20 ? BigInt(block) : undefined;
        if (number !== undefined && number > head) return reply({ error: { code: -32000, message: 'header not found' } });
        return reply(await upstream(request.method, block === 'latest' ? [...params.slice(0, -1), hex(head)] : params));
      }
    }
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = JSON.parse(Buffer.concat(chunks).toString()) as RpcRequest | RpcRequest[];
    if (mode === 'http500' && !(!Array.isArray(request) && request.method === 'eth_chainId')) {
      res.statusCode = 500;
      return res.end('upstream exploded');
    }
    let out: unknown;
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    try {
      out = Array.isArray(request) ? await Promise.all(request.map(answer)) : await answer(request);
    } catch {
      res.statusCode = 502; // the node is gone (a test ending)
      return res.end();
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(out));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A URL nobody listens at: an endpoint that is down. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
