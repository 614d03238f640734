import type { Logger } from 'pino';
import { DEFAULT_MESSAGES } from '../limits/defaults.ts';
import { copyBytes } from '../store/copyBytes.ts';
import type { Bytes, ModuleStore } from '../store/EngineStore.ts';
import { commitStaged } from '../store/GuardedModuleStore.ts';
import { outboxKey, outboxPrefix } from '../store/reservedKeys.ts';
import { keyId } from '../store/StateTransaction.ts';

/** What a sender's trim asks of the engine (MessageHub answers it). */
export interface TrimSources {
  /** The receiver's committed cursor on this sender's messages: what it has handled, for certain. */
  handled(to: string): Promise<bigint>;
  /** This many entries to `to` were deleted, up to `upTo` (its cursor when the trim read it). */
  trimmed(to: string, upTo: bigint, count: number): void;
}

/**
 * Deletes the entries of one sender's outboxes that can never be read or retracted again, in commits
 * of the sender's own through its guarded store (as a job's: in turn with its steps). An entry goes when
 *
 * - its receiver's committed cursor on this sender is at or past it (read before the journals: the
 *   cursor is the truth of exactly-once, and a message at or below it is never read again), and
 * - no undo record of the sender's reorg journals holds its key: the step that sent it is final. A
 *   reorg's undo turns the entries its block wrote into retractions carrying the original's payload
 *   (retractions.ts); trimmed earlier, the retraction would lose it, and a trim by a non-chain step
 *   would even keep the undo from seeing the message (another source wrote the key since).
 *
 * No step ever writes an outbox key again once it is committed (a send takes a fresh seq, a retraction
 * too), so what the journals held when read still holds at the commit: a key that was final stays so.
 */
export class OutboxTrim {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    readonly sender: string,
    private readonly store: ModuleStore,
    private readonly receivers: readonly string[],
    private readonly chains: readonly bigint[],
    private readonly sources: TrimSources,
    private readonly logger: Logger,
    private readonly batch: number = DEFAULT_MESSAGES.batch,
  ) {}

  /** Trims once more (a trim running now runs again after it). */
  request(): void {
    if (this.stopped) return;
    this.again = true;
    this.running ??= this.drain();
  }

  /** Resolves once no trim runs. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** No trim starts any more; resolves once the one running has committed. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.again && !this.stopped) {
        this.again = false;
        await this.trim();
      }
    } catch (error) {
      // Nothing is lost: the entries stay, and the next request (or the sender's next start) tries again.
      if (!this.stopped) this.logger.warn({ err: error, module: this.sender }, 'outbox could not be trimmed');
    } finally {
      this.running = undefined;
    }
  }

  private async trim(): Promise<void> {
    const handled = new Map<string, bigint>();
    for (const to of this.receivers) handled.set(to, await this.sources.handled(to));
    const inWindow = new Set<string>();
    for (const chain of this.chains) for (const entry of await this.store.journal(chain)) for (const write of entry.undo) inWindow.add(keyId(write.key));
    const doomed = new Map<string, Bytes[]>();
    let full = false;
    for (const [to, upTo] of handled) {
      if (upTo <= 0n) continue;
      const keys: Bytes[] = [];
      let seen = 0;
      for await (const key of this.store.keys({ gte: outboxPrefix(to), lt: outboxKey(to, upTo + 1n), limit: this.batch + inWindow.size })) {
        seen++;
        if (!inWindow.has(keyId(key))) keys.push(copyBytes(key));
      }
      if (seen === this.batch + inWindow.size) full = true;
      doomed.set(to, keys);
    }
    if (this.stopped) return;
    const counts = new Map<string, number>();
    const committed = await commitStaged(this.store, (tx) => {
      let any = false;
      for (const [to, keys] of doomed) {
        let count = 0;
        for (const key of keys) {
          if (tx.get(key) === undefined) continue;
          tx.delete(key);
          count++;
        }
        counts.set(to, count);
        any ||= count > 0;
      }
      return any;
    });
    for (const [to, upTo] of handled) this.sources.trimmed(to, upTo, committed ? (counts.get(to) ?? 0) : 0);
    // A long backlog is trimmed a batch at a time, each in a commit of its own.
    if (full) this.again = true;
  }
}
