import type { Logger } from 'pino';
import type { GuestEvent } from '../bus/guestEvents.ts';
import type { ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import { DEFAULT_POSTGRES } from '../limits/defaults.ts';
import type { OwnedStore } from '../store/OwnedStore.ts';

/** The topics of embedder events a module receives: its `topics` and its `custom` triggers'. */
export function customTopics(manifest: ResolvedManifest): Set<string> {
  return new Set([...manifest.topics, ...manifest.triggers.flatMap((t) => (t.kind === 'custom' ? [t.topic] : []))]);
}

/** Where a custom feed hands its events (with the publisher's trace context, if any): the module's mailbox (in order; resolves once queued). */
export type CustomSink = (event: GuestEvent, cursor: { seq: number }, traceparent?: string) => Promise<void>;

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
    this.again = true;
    this.running ??= this.drain();
  }

  /** No read starts any more; resolves once the one running (if any) has queued its events. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.again && !this.stopped) {
        this.again = false;
        await this.readAll();
      }
    } finally {
      // Cleared in the same turn as the last check of `again`: a wake from now on starts a new drain.
      this.running = undefined;
    }
  }

  private async readAll(): Promise<void> {
    try {
      for (;;) {
        const rows = await this.store.readCustom(this.position, this.topics, this.batch);
        // In sequence order, and never one at or below the position: an event is handed over once.
        const fresh = rows.filter((row) => row.seq > this.position).sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
        for (const row of fresh) {
          if (this.stopped) return;
          if (row.seq <= this.position) continue;
          await this.sink({ tag: 'custom', val: { topic: row.topic, payload: row.payload } }, { seq: Number(row.seq) }, row.traceparent);
          this.position = row.seq;
        }
        if (rows.length < this.batch) return;
      }
    } catch (error) {
      // The next wake reads again from the same position.
      if (!this.stopped) this.logger.warn({ err: error }, 'custom events could not be read');
    }
  }
}
