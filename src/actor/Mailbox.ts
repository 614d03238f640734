import { EngineError } from '../errors/EngineError.ts';

/**
 * What happens to an event when an actor's mailbox is full:
 * - `coalesce`: it replaces the oldest queued event of the same kind (for kinds where only the newest matters);
 * - `backpressure`: the producer waits until there is room: nothing is dropped. The default, and what every
 *   kind of a module's events uses, chain blocks included (a feed pauses while its module's mailbox is full).
 */
export type OverflowPolicy = 'coalesce' | 'backpressure';

export interface Envelope<T> {
  kind: string;
  payload: T;
}

/**
 * A bounded FIFO for one actor. `offer` resolves once the envelope is queued; under `backpressure`
 * that is when a slot frees. Envelopes come out in arrival order.
 */
export class Mailbox<T> {
  private readonly queue: Envelope<T>[] = [];
  private readonly waiting: { envelope: Envelope<T>; admitted: () => void }[] = [];
  private coalesced = 0;

  constructor(
    readonly capacity: number,
    private readonly policyOf: (kind: string) => OverflowPolicy,
    private readonly onArrival: () => void,
    /** Told about each envelope a newer one replaced, so its sender learns it will not run. */
    private readonly onCoalesced: (dropped: Envelope<T>) => void = () => {},
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new EngineError('invalid-option', `mailbox capacity must be a positive integer, got ${capacity}`, { option: 'mailboxCapacity', value: capacity });
  }

  get depth(): number {
    return this.queue.length;
  }

  /** Producers blocked on a full mailbox. */
  get blocked(): number {
    return this.waiting.length;
  }

  /** Envelopes replaced by a newer one of the same kind. */
  get coalescedCount(): number {
    return this.coalesced;
  }

  offer(envelope: Envelope<T>): Promise<void> | void {
    if (this.queue.length < this.capacity && this.waiting.length === 0) {
      this.queue.push(envelope);
      this.onArrival();
      return;
    }
    if (this.policyOf(envelope.kind) === 'coalesce') {
      const index = this.queue.findIndex((queued) => queued.kind === envelope.kind);
      if (index >= 0) {
        const [dropped] = this.queue.splice(index, 1);
        this.queue.push(envelope);
        this.coalesced++;
        this.onCoalesced(dropped!);
        this.onArrival();
        return;
      }
    }
    return new Promise<void>((admitted) => this.waiting.push({ envelope, admitted }));
  }

  take(): Envelope<T> | undefined {
    const next = this.queue.shift();
    if (next && this.waiting.length > 0) {
      const { envelope, admitted } = this.waiting.shift()!;
      this.queue.push(envelope);
      admitted();
    }
    return next;
  }

  /** Removes and returns everything queued and waiting (used when the actor stops). */
  drain(): Envelope<T>[] {
    const all = [...this.queue, ...this.waiting.map((w) => w.envelope)];
    for (const { admitted } of this.waiting.splice(0)) admitted();
    this.queue.length = 0;
    return all;
  }
}
