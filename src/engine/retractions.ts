import { decodeOutboxEntry, encodeOutboxEntry, seqOf, type OutboxEntry } from '../host/messages.ts';
import type { Write } from '../store/EngineStore.ts';
import { messageSeqKey, MSG_SEQ_PREFIX, outboxKey, parseOutboxKey, startsWith } from '../store/reservedKeys.ts';
import type { StateTransaction } from '../store/StateTransaction.ts';

/**
 * The undo of a reorged block, as far as the messages the module sent in it go: each message the
 * block put in an outbox is retracted, never taken away. Taking it away would not undo a message the
 * receiver has handled already, and would give its sequence number to the next message, which the
 * receiver's cursor already counts as handled. So the restores that would delete outbox entries are
 * left out; each becomes a retraction staged in `transaction`: a new entry at the next sequence number
 * to that receiver, carrying the original's payload and its seq (`r`), which the receiver gets as a
 * `message` with `removed = true` after the original. The per-receiver counters are never restored
 * (a restored counter would hand out numbers twice). Returns the restores left to apply.
 */
export function retractMessages(restores: readonly Write[], transaction: StateTransaction): Write[] {
  const rest: Write[] = [];
  const sent: { to: string; seq: bigint }[] = [];
  for (const write of restores) {
    if (startsWith(write.key, MSG_SEQ_PREFIX)) continue;
    const message = parseOutboxKey(write.key);
    if (!message) {
      rest.push(write);
      continue;
    }
    if (write.value === null) sent.push(message);
  }
  sent.sort((a, b) => (a.to < b.to ? -1 : a.to > b.to ? 1 : a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  for (const { to, seq } of sent) {
    const stored = transaction.get(outboxKey(to, seq));
    const original = stored === undefined ? undefined : decodeOutboxEntry(stored);
    const next = seqOf(transaction.get(messageSeqKey(to))) + 1n;
    const entry: OutboxEntry = { p: original?.p ?? '', ...(original?.c === undefined ? {} : { c: original.c }), r: Number(seq) };
    transaction.set(outboxKey(to, next), encodeOutboxEntry(entry), undefined, entry);
    transaction.set(messageSeqKey(to), Buffer.from(String(next), 'utf8'));
  }
  return rest;
}
