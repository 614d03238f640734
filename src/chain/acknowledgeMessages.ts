/** The WebSocket as viem holds it: `ws`'s on Node 20, the platform's (undici's) where Node has one. */
interface ChainSocket {
  addEventListener(type: 'message', listener: () => void): void;
  /** `ws` only: sends a Pong frame (masked, as a client must). */
  pong?: (data?: unknown, mask?: boolean, cb?: (error?: Error) => void) => void;
}

const acknowledged = new WeakSet<object>();

/**
 * Answers every message a chain's node sends on `socket` with an unsolicited Pong frame (RFC 6455
 * §5.5.3: a one-way heartbeat, no reply expected), so the node's next message never waits ~40 ms
 * for our acknowledgement of this one.
 *
 * Why: anvil (and any server on tokio/hyper that does not set TCP_NODELAY) writes with Nagle's
 * algorithm on, and Linux delays a pure ACK by 40 ms or more when the receiver has nothing to send.
 * A node that writes twice with nothing from us in between (a head notification and then the answer
 * to a request already on its way; the health probe's answer and a getLogs answer that crossed it;
 * the answers of two concurrent requests) holds the second write until that delayed ACK: seen under
 * strace, anvil wrote a getLogs answer 0.3 ms after the request and corral read it 43 ms later, and
 * a head notification written 2 ms after its block waited ~35 ms behind the previous getLogs answer.
 * A frame of ours carries the ACK at once. It costs one 6-byte write per message received.
 *
 * The platform WebSocket (Node 22+) has no way to send a Pong: there the stall stays, and only a
 * node that sets TCP_NODELAY avoids it (geth and most proxies do). Idempotent per socket.
 */
export function acknowledgeMessages(socket: ChainSocket): void {
  if (typeof socket.pong !== 'function' || acknowledged.has(socket)) return;
  acknowledged.add(socket);
  const pong = socket.pong.bind(socket);
  // A socket closing under us refuses the write: nothing to acknowledge then (the callback swallows it).
  socket.addEventListener('message', () => pong(undefined, true, ignore));
}

const ignore = () => {};
