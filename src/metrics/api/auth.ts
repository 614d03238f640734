import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Who may read the API: the token every request must carry, and whether peers off this host may. */
export interface ApiAccess {
  token: string;
  allowRemote: boolean;
}

/** Why a request is refused, or undefined when it may be served. */
export type Refusal = { status: 401 | 403; code: 'unauthorized' | 'forbidden'; message: string };

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (a dual-stack listener reports `::ffff:127.0.0.1`). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return v4.startsWith('127.') || address === '::1';
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Checks a request's peer, then its bearer token. The token is compared in constant time: both are
 * hashed first, since `timingSafeEqual` needs equal lengths and an early length check would tell
 * a caller the token's length.
 */
export function refusal(req: IncomingMessage, access: ApiAccess): Refusal | undefined {
  if (!access.allowRemote && !isLoopback(req.socket.remoteAddress)) {
    return { status: 403, code: 'forbidden', message: 'the read API answers loopback peers only ([engine.api] allow_remote = false)' };
  }
  const header = req.headers.authorization;
  const given = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
  if (given === undefined) return { status: 401, code: 'unauthorized', message: 'no bearer token (Authorization: Bearer <token>)' };
  return timingSafeEqual(digest(given), digest(access.token)) ? undefined : { status: 401, code: 'unauthorized', message: 'wrong bearer token' };
}
