import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

interface Socket {
  on(event: 'message', listener: (data: Buffer, binary: boolean) => void): void;
  on(event: 'close' | 'open', listener: () => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  send(data: Buffer | string, options?: { binary: boolean }): void;
  terminate(): void;
  readyState: number;
}
interface Server {
  on(event: 'connection', listener: (socket: Socket) => void): void;
  on(event: 'listening', listener: () => void): void;
  address(): AddressInfo;
  close(callback?: () => void): void;
}
const ws = createRequire(import.meta.url)('ws') as { WebSocketServer: new (options: { host: string; port: number }) => Server; WebSocket: new (url: string) => Socket };

/**
 * A WebSocket endpoint in front of `target` (a real node's ws:// URL): each connection gets its own
 * upstream connection, messages pass both ways, and what clients sent is counted by method. `close()`
 * is the endpoint dying: every connection is cut (no close handshake) and nothing listens any more.
 */
export async function startWsProxy(target: string) {
  const server = new ws.WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.on('listening', resolve));
  const counts: Record<string, number> = {};
  const open = new Set<Socket>();
  server.on('connection', (client) => {
    const upstream = new ws.WebSocket(target);
    const queued: Buffer[] = [];
    open.add(client).add(upstream);
    upstream.on('open', () => queued.splice(0).forEach((m) => upstream.send(m, { binary: false })));
    upstream.on('message', (data) => client.readyState === 1 && client.send(data, { binary: false }));
    client.on('message', (data) => {
      const method = (JSON.parse(String(data)) as { method?: string }).method ?? '?';
      counts[method] = (counts[method] ?? 0) + 1;
      if (upstream.readyState === 1) upstream.send(data, { binary: false });
      else queued.push(data);
    });
    const end = () => {
      client.terminate();
      upstream.terminate();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.terminate();
        server.close(() => resolve());
      }),
  };
}
