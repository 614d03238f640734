import type { GuestEvent } from '../bus/guestEvents.ts';

export type { GuestEvent as ModuleEvent } from '../bus/guestEvents.ts';
import { EngineError } from '../errors/EngineError.ts';
import { isOwnedStore, type SqlClient } from '../store/OwnedStore.ts';
import { parseTraceparent } from '../tracing/Tracing.ts';
import type { EngineParts } from './EngineParts.ts';
import type { ModuleTable } from './ModuleTable.ts';

/** Publication options: `traceparent` (W3C trace context: the publisher's span) parents the steps that handle the event. */
export interface PublishOptions {
  traceparent?: string;
}

/**
 * Embedder events into the engine (`engine.publish`, `engine.publishIn`). On LevelDB each event is numbered
 * here and queued to its receivers' mailboxes; on PostgreSQL it goes into the shared table first (durable,
 * ordered) and the owners, on this replica or another, read it from there.
 */
export class Publisher {
  /** The last custom-event number handed out (LevelDB): a restarted engine resumes above what any module committed. */
  private sequence = 0;

  constructor(
    private readonly parts: EngineParts,
    private readonly modules: ModuleTable,
    /** Resolves once no hot swap has a module out of the table (an event published meanwhile would miss it). */
    private readonly held: () => Promise<void> | undefined,
  ) {}

  resumeAfter(sequence: number): void {
    this.sequence = Math.max(this.sequence, sequence);
  }

  async publish(topic: string, payload: string, options: PublishOptions): Promise<void> {
    const { traceparent } = options;
    if (traceparent !== undefined) checkTraceparent(traceparent);
    for (let held = this.held(); held; held = this.held()) await held;
    const store = this.parts.store;
    if (isOwnedStore(store)) {
      // The statement also NOTIFYs the other replicas.
      await store.appendCustom(topic, payload, traceparent);
      this.parts.bus.custom$.next({ topic, payload });
      for (const module of this.modules.all()) module.wakeCustom();
      return;
    }
    this.parts.bus.custom$.next({ topic, payload });
    const cursor = { seq: ++this.sequence };
    const event: GuestEvent = { tag: 'custom', val: { topic, payload } };
    const receivers = this.modules.receivers(topic);
    const payloadOf = { kind: 'custom' as const, event, cursor, ...(traceparent === undefined ? {} : { traceparent }) };
    await Promise.all(receivers.map((m) => this.parts.supervisor.send(m.name, { kind: 'custom', payload: payloadOf })));
  }

  /** One custom event to one module, resolving with its outcome (after the commit, if any). */
  deliver(module: string, event: GuestEvent, cursor: unknown) {
    this.modules.get(module);
    return this.parts.supervisor.request(module, { kind: 'custom', payload: { kind: 'custom', event, cursor } });
  }

  async publishIn(client: SqlClient, topic: string, payload: string, options: PublishOptions): Promise<void> {
    const store = this.parts.store;
    if (!isOwnedStore(store)) throw new EngineError('invalid-option', 'publishIn needs the PostgreSQL store ([store] backend = "postgres"); use publish', { option: 'store.backend' });
    if (options.traceparent !== undefined) checkTraceparent(options.traceparent);
    await store.publishIn(client, topic, payload, options.traceparent);
  }
}

/** Refuses a `traceparent` that is not W3C trace context, naming it and what is wrong. */
function checkTraceparent(traceparent: string): void {
  const parsed = typeof traceparent === 'string' ? parseTraceparent(traceparent) : 'not a string';
  if (typeof parsed === 'string') throw new EngineError('invalid-option', `traceparent ${JSON.stringify(traceparent)} is not W3C trace context: ${parsed}`, { option: 'traceparent', traceparent });
}
