import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP JSON-RPC proxy in front of a real node that lets a test rewrite answers: the only way to
 * make a real anvil return malformed data. `rewrite` sees each request and its answer and returns the
 * answer to send (or the same object).
 */
export async function startRpcProxy(target: string, rewrite: (request: { method: string }, response: { result?: unknown }) => unknown) {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    let answer: unknown;
    try {
      answer = await (await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).json();
    } catch {
      res.statusCode = 502; // the node is gone (a test ending): say so, as a real proxy would
      return res.end();
    }
    const request = JSON.parse(body) as { method: string } | { method: string }[];
    const out = Array.isArray(request) ? (answer as { result?: unknown }[]).map((r, i) => rewrite(request[i]!, r)) : rewrite(request, answer as { result?: unknown });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(out));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
