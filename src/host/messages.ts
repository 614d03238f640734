import type * as Messages from './generated/corral-module-messages.js';
import { DEFAULT_MESSAGES } from '../limits/defaults.ts';
import { messageSeqKey, outboxKey } from '../store/reservedKeys.ts';
import { fault } from './fault.ts';
import type { HostImplementation } from './HostImplementation.ts';
import type { InvocationScope } from './InvocationScope.ts';

/** One outbox entry as stored: the payload, the correlation id, and for a retraction the seq it takes back. */
export interface OutboxEntry {
  p: string;
  c?: string;
  /** A retraction (a reorg undid the step that sent message `r`): see retractions.ts. */
  r?: number;
}

export const encodeOutboxEntry = (entry: OutboxEntry): Uint8Array => Buffer.from(JSON.stringify(entry), 'utf8');

/** The entry an outbox value holds, or undefined for one corral cannot read (only corral writes them). */
export function decodeOutboxEntry(value: Uint8Array): OutboxEntry | undefined {
  try {
    const entry = JSON.parse(Buffer.from(value).toString('utf8')) as OutboxEntry;
    return typeof entry.p === 'string' ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** The last sequence number a committed (or staged) counter holds; absent is zero. */
export const seqOf = (value: Uint8Array | undefined): bigint => (value === undefined ? 0n : BigInt(Buffer.from(value).toString('utf8')));

/** What the messages host of one invocation needs besides its scope (src/engine/MessageHub.ts answers it). */
export interface MessagesContext {
  /** The modules the manifest's `messages` grant names. */
  grants: readonly string[];
  /**
   * The highest sequence number of this module's messages `to` has handled (its committed cursor, as
   * far as this engine knows: 0 when it does not), and `to`'s inbox bound for them.
   */
  inbox(to: string): { handled: bigint; bound: number };
  /** Told of every send refused with `inbox-full` (a metric). */
  full(to: string): void;
}

/**
 * `corral:module/messages`: a message is an entry of the sender's outbox, a key in its reserved range
 * (src/store/reservedKeys.ts) staged in the invocation's overlay, so it exists only if the invocation
 * commits, and a reorg's undo of the step turns it into a retraction (src/engine/retractions.ts). The
 * per-receiver counter beside it gives each message its sequence number. Each call counts toward
 * `messagesSent`, its payload and correlation id toward `messageBytes`, the entry toward `storedBytes`.
 */
export function messagesHost(scope: InvocationScope, context: MessagesContext): HostImplementation<typeof Messages> {
  const tx = scope.transaction;
  // The entry rides along decoded (Write.decoded): the engine counts and routes a commit's messages without parsing them again.
  const stage = (key: Uint8Array, value: Uint8Array, entry?: OutboxEntry) => tx.set(key, value, (sizeDelta) => scope.check('storedBytes', scope.state.storedBytes + sizeDelta), entry);
  return {
    send(to: string, payload: string, given: string | undefined): bigint {
      // A guest's glue may lift `none` as null.
      const correlationId = given ?? undefined;
      scope.charge('messagesSent');
      if (!context.grants.includes(to)) throw fault({ tag: 'denied', val: `${scope.module} has no messages grant for ${to}` });
      const idBytes = correlationId === undefined ? 0 : Buffer.byteLength(correlationId, 'utf8');
      if (idBytes > DEFAULT_MESSAGES.correlationIdBytes) throw fault({ tag: 'invalid-input', val: `correlation-id of ${idBytes} bytes: at most ${DEFAULT_MESSAGES.correlationIdBytes}` });
      scope.charge('messageBytes', Buffer.byteLength(payload, 'utf8') + idBytes);
      const last = seqOf(tx.get(messageSeqKey(to)));
      const { handled, bound } = context.inbox(to);
      if (last - handled >= BigInt(bound)) {
        context.full(to);
        throw fault({ tag: 'limit', val: 'inbox-full' });
      }
      const seq = last + 1n;
      const entry: OutboxEntry = correlationId === undefined ? { p: payload } : { p: payload, c: correlationId };
      stage(outboxKey(to, seq), encodeOutboxEntry(entry), entry);
      stage(messageSeqKey(to), Buffer.from(String(seq), 'utf8'));
      return seq;
    },
  };
}
