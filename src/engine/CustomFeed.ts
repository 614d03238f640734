import type { Logger } from 'pino';
import type { GuestEvent } from '../bus/guestEvents.ts';
import { DEFAULT_POSTGRES } from '../limits/defaults.ts';
import type { OwnedStore } from '../store/OwnedStore.ts';

/** Where a custom feed hands its events: the module's mailbox (in order; resolves once queued). */
export type CustomSink = (event: GuestEvent, cursor: { seq: number }) => Promise<void>;

/**
 * One owned module's custom events on a store shared by replicas. Published events are rows of a
 * table (NOTIFY is only a hint: a listener that was disconnected misses it, and its payload is
 * limited), so the module reads them from its committed cursor when it is acquired and at every
 * `custom` wake: an event published while its owner was down or disconnected is delivered once after
 * the takeover, in publication order. The cursor commits with each event's state (`{ seq }`, as on
 * LevelDB); reading ahead of the commits is the mailbox's queue.
 */
export class CustomFeed {
  private position: bigint;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly store: OwnedStore,
    private readonly topics: readonly string[],
    from: bigint,
    private readonly sink: CustomSink,
    private readonly logger: Logger,
    private readonly batch: number = DEFAULT_POSTGRES.customBatch,
  ) {
    this.position = from;
  }

  /** Reads what was published since the last read (a read running now reads once more after it). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => (this.running = undefined));
  }

  /** No read starts any more; resolves once the one running (if any) has queued its events. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      try {
        for (;;) {
          const rows = await this.store.readCustom(this.position, this.topics, this.batch);
          for (const row of rows) {
            if (this.stopped) return;
            await this.sink({ tag: 'custom', val: { topic: row.topic, payload: row.payload } }, { seq: Number(row.seq) });
            this.position = row.seq;
          }
          if (rows.length < this.batch) break;
        }
      } catch (error) {
        // The next wake (or the periodic one) reads again from the same position.
        if (!this.stopped) this.logger.warn({ err: error }, 'custom events could not be read');
      }
    } while (this.again && !this.stopped);
  }
}
