import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { keccak256, toHex } from 'viem';

/** An order the local order book accepted. */
export interface ReceivedOrder {
  uid: string;
  owner: string;
  validTo: number;
  order: Record<string, unknown>;
}

export interface OrderBook {
  /** Base URL, `http://127.0.0.1:<port>` (engine.toml's `orderbook_url`). */
  url: string;
  /** Accepted orders, in arrival order. */
  readonly accepted: ReceivedOrder[];
  /** Posts answered with DuplicatedOrder. */
  readonly duplicates: number;
  /** Every order posted, accepted or not. */
  readonly posts: number;
  /** Posts refused with InsufficientBalance: the owner and validTo of each, in arrival order. */
  readonly unfunded: { owner: string; validTo: number }[];
  /** Answers the next `n` posts with DuplicatedOrder without keeping them, as if it had them already (another watcher posted them). */
  claimDuplicates(n: number): void;
  /** While down, every connection is reset before an answer (as a crashed or unreachable server). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/**
 * A local stand-in for the CoW Protocol order book (api.cow.fi), enough for a watcher: `POST
 * /api/v1/orders` accepts an order and answers its uid (201), or `DuplicatedOrder` (400) for one it
 * has; `GET /api/v1/orders/<uid>` returns it or `OrderNotFound` (404). Error bodies have the real
 * API's shape, `{"errorType","description"}`. The uid is the real one's layout (digest, owner,
 * validTo: 56 bytes) over a digest of the order's JSON, not its EIP-712 hash. Given `balanceOf`, it
 * refuses an order whose owner holds less than its sellAmount with `InsufficientBalance` (400), as
 * api.cow.fi does; it does not verify signatures.
 */
export async function startOrderBook(options: { port?: number; balanceOf?: (owner: string, token: string) => Promise<bigint> } = {}): Promise<OrderBook> {
  const accepted: ReceivedOrder[] = [];
  const byUid = new Map<string, ReceivedOrder>();
  let duplicates = 0;
  let posts = 0;
  let claimed = 0;
  let down = false;
  const unfunded: { owner: string; validTo: number }[] = [];
  const sockets = new Set<Socket>();
  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, errorType: string, description: string) => answer(res, status, { errorType, description });

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    if (down) return void req.socket.destroy();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'POST' && path === '/api/v1/orders') {
      posts++;
      if (claimed > 0) {
        claimed--;
        duplicates++;
        return error(res, 400, 'DuplicatedOrder', 'order already exists');
      }
      let order: Record<string, unknown>;
      try {
        order = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return error(res, 400, 'InvalidJson', 'the body is not JSON');
      }
      const owner = String(order.from ?? '').toLowerCase();
      const validTo = Number(order.validTo);
      if (!/^0x[0-9a-f]{40}$/.test(owner) || !Number.isInteger(validTo)) return error(res, 400, 'InvalidOrder', 'from and validTo are required');
      const { from: _from, ...fields } = order;
      const uid = `${keccak256(toHex(JSON.stringify(fields, Object.keys(fields).sort())))}${owner.slice(2)}${validTo.toString(16).padStart(8, '0')}`;
      if (byUid.has(uid)) {
        duplicates++;
        return error(res, 400, 'DuplicatedOrder', 'order already exists');
      }
      if (options.balanceOf && (await options.balanceOf(owner, String(order.sellToken))) < BigInt(String(order.sellAmount))) {
        unfunded.push({ owner, validTo });
        return error(res, 400, 'InsufficientBalance', 'order owner must have funds worth at least x in his account');
      }
      const received = { uid, owner, validTo, order };
      byUid.set(uid, received);
      accepted.push(received);
      return answer(res, 201, uid);
    }
    const match = /^\/api\/v1\/orders\/(0x[0-9a-f]{112})$/.exec(path);
    if (req.method === 'GET' && match) {
      const found = byUid.get(match[1]!);
      return found ? answer(res, 200, { ...found.order, uid: found.uid, owner: found.owner, status: 'open' }) : error(res, 404, 'OrderNotFound', 'no order with this uid');
    }
    return error(res, 404, 'NotFound', `${req.method} ${path} is not served here`);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accepted,
    get duplicates() {
      return duplicates;
    },
    get posts() {
      return posts;
    },
    unfunded,
    claimDuplicates(n) {
      claimed = n;
    },
    setDown(value) {
      down = value;
      // Kept-alive connections would otherwise still be answered: drop them too.
      if (down) for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
