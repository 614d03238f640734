import type { FeedDelivery } from './FeedDelivery.ts';

/**
 * A step without the events at `indices` (the module answered them with `err`): their logs leave the
 * undo record too, so a reorg does not re-deliver as removed a log whose handling was dropped.
 */
export function withoutEvents(delivery: FeedDelivery, indices: readonly number[]): FeedDelivery {
  const dropped = new Set(indices);
  const events = delivery.events.filter((_, i) => !dropped.has(i));
  const record = delivery.journal?.record;
  if (!record) return { ...delivery, events };
  // A live step's events are its logs, in the record's order, then its block event.
  const payload = (record.payload as unknown[]).filter((_, i) => !dropped.has(i));
  return { ...delivery, events, journal: { ...delivery.journal, record: { ...record, payload } } };
}
