import type { Logger } from 'pino';
import { backoffDelay } from '../clock/backoff.ts';
import type { Clock } from '../clock/Clock.ts';
import type { Write } from '../store/EngineStore.ts';
import { MAX_TIMER_DELAY_MS, TIMER_RETRY, TIMERS_IN_FLIGHT } from '../limits/defaults.ts';
import type { ModuleTimers } from './ModuleTimers.ts';
import type { Timer } from './timerWrites.ts';

interface ModuleEntry {
  timers: ModuleTimers;
  /** Firing starts once the module serves (`activate`); commits are followed from `track` on. */
  active: boolean;
  /** The last block the module committed, per chain. */
  handled: Map<bigint, bigint>;
  /** Its timers delivered and not yet handled, or waiting for a retry: at most `TIMERS_IN_FLIGHT`. */
  inFlight: number;
}

/**
 * Fires the modules' timers: time timers when the (injected) clock reaches them, block timers once
 * the module has committed that block. Firing is delivering a `timer(tag)` event; the timer is gone
 * only when that event's invocation commits (its deletion is staged in it when its turn comes), so a
 * timer fires until it is handled, and once handled never again. One still stored after its delivery
 * (an open circuit, a handler that ended in a signal) fires again after `TIMER_RETRY.initialMs`, doubling up
 * to `TIMER_RETRY.maxMs` (src/limits/defaults.ts).
 *
 * Only the earliest timers are in memory (`ModuleTimers`); at most `TIMERS_IN_FLIGHT` of a module are
 * delivered at a time, the next ones as those end, so a module with thousands due still takes its
 * other events in between, and the memory held stays bounded whatever the number pending.
 */
export class TimerScheduler {
  private readonly modules = new Map<string, ModuleEntry>();
  private readonly firing = new Set<string>();
  /** Timers waiting for a retry, with their attempt count: not armed or fired meanwhile. */
  private readonly retrying = new Map<string, { attempts: number; handle: unknown }>();
  private handle: unknown;
  private armedAt: number | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly deliver: (module: string, timer: Timer) => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  /** Follows a module's commits from now on (before its actor and feeds start, so none is missed). */
  track(module: string, timers: ModuleTimers): void {
    this.modules.set(module, { timers, active: false, handled: new Map(), inFlight: 0 });
  }

  /** The module serves: time timers already due fire now; block timers at or below `handled` (its cursor per chain) too. */
  activate(module: string, handled: ReadonlyMap<bigint, bigint>): void {
    const entry = this.modules.get(module);
    if (!entry) return;
    entry.active = true;
    for (const [chain, block] of handled) this.blockHandled(module, chain, block);
    this.armFor(module, entry);
  }

  remove(module: string): void {
    this.modules.delete(module);
    for (const [id, retry] of this.retrying) {
      if (!id.startsWith(`${module}\u0000`)) continue;
      this.clock.clearTimeout(retry.handle);
      this.retrying.delete(id);
    }
    this.arm();
  }

  /** A commit of `module` wrote these keys: its timers follow, and a block timer set for a block already handled fires. */
  committed(module: string, writes: readonly Write[]): void {
    const entry = this.modules.get(module);
    if (!entry?.timers.apply(writes)) return;
    if (entry.active) for (const [chain, block] of entry.handled) this.fireBlocks(module, entry, chain, block);
    this.refill(module, entry);
    this.armFor(module, entry);
  }

  /** `module` committed block `block` of `chain`. */
  blockHandled(module: string, chain: bigint, block: bigint): void {
    const entry = this.modules.get(module);
    if (!entry) return;
    if ((entry.handled.get(chain) ?? -1n) < block) entry.handled.set(chain, block);
    if (!entry.active) return;
    this.fireBlocks(module, entry, chain, block);
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    for (const retry of this.retrying.values()) this.clock.clearTimeout(retry.handle);
    this.retrying.clear();
  }

  /**
   * One clock timeout, for the earliest time timer of any active module that is not being delivered
   * or waiting for a retry. A module with `TIMERS_IN_FLIGHT` out is left out: it fires again as those end.
   */
  private arm(): void {
    if (this.stopped) return;
    let next: number | undefined;
    for (const [module, entry] of this.modules) {
      if (!entry.active || entry.inFlight >= TIMERS_IN_FLIGHT) continue;
      const at = entry.timers.next((timer) => this.busy(firingId(module, timer)));
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    if (next === this.armedAt && this.handle !== undefined) return;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.armedAt = next;
    if (next === undefined) return;
    // Node's timers take at most 2^31-1 ms: a later timer re-arms on the way.
    this.handle = this.clock.setTimeout(() => this.fireDue(), Math.min(Math.max(0, next - this.clock.now()), MAX_TIMER_DELAY_MS));
  }

  /**
   * Re-arms for one module's change without a pass over every module (a start of N modules, or N
   * modules' commits, made that N²: 31 s of a 2,000-module start). The clock only has to move earlier:
   * if this module's timer that was armed went away, the armed wake-up finds nothing due and re-arms.
   */
  private armFor(module: string, entry: ModuleEntry): void {
    if (this.stopped || !entry.active || entry.inFlight >= TIMERS_IN_FLIGHT) return;
    const at = entry.timers.next((timer) => this.busy(firingId(module, timer)));
    if (at !== undefined && (this.armedAt === undefined || this.handle === undefined || at < this.armedAt)) this.arm();
  }

  private busy(id: string): boolean {
    return this.firing.has(id) || this.retrying.has(id);
  }

  private fireDue(): void {
    this.handle = undefined;
    this.armedAt = undefined;
    for (const [module, entry] of this.modules) if (entry.active) this.fireTimes(module, entry);
    this.arm();
  }

  /** Fires `module`'s due time timers, as many as it has room for, earliest first. */
  private fireTimes(module: string, entry: ModuleEntry): void {
    const room = TIMERS_IN_FLIGHT - entry.inFlight;
    if (room <= 0) return;
    for (const timer of entry.timers.dueAt(this.clock.now(), room, (t) => this.busy(firingId(module, t)))) this.fire(module, timer);
    this.refill(module, entry);
  }

  private fireBlocks(module: string, entry: ModuleEntry, chain: bigint, block: bigint): void {
    for (const timer of entry.timers.dueBlock(chain, block)) {
      if (entry.inFlight >= TIMERS_IN_FLIGHT) break;
      this.fire(module, timer);
    }
  }

  /** A timer of `module` is out of flight: the next due ones may go. */
  private landed(module: string, entry: ModuleEntry): void {
    entry.inFlight--;
    // A module removed (and maybe added again) meanwhile: its new entry counts its own.
    if (this.modules.get(module) !== entry || this.stopped || !entry.active) return;
    this.fireTimes(module, entry);
    for (const [chain, block] of entry.handled) this.fireBlocks(module, entry, chain, block);
    this.arm();
  }

  /** When the timers held in memory run low, reads the next ones from the store, then fires what is due. */
  private refill(module: string, entry: ModuleEntry): void {
    if (!entry.timers.low) return;
    entry.timers.refill().then(
      () => {
        if (this.modules.get(module) !== entry || this.stopped || !entry.active) return;
        this.fireTimes(module, entry);
        for (const [chain, block] of entry.handled) this.fireBlocks(module, entry, chain, block);
        this.arm();
      },
      (error: unknown) => this.logger.error({ module, err: error }, 'could not read timers from the store'),
    );
  }

  private fire(module: string, timer: Timer, attempts = 0): void {
    const id = firingId(module, timer);
    const entry = this.modules.get(module);
    if (!entry || this.stopped || this.firing.has(id) || (attempts === 0 && this.retrying.has(id))) return;
    if (attempts === 0) {
      if (entry.inFlight >= TIMERS_IN_FLIGHT) return;
      entry.inFlight++;
    }
    this.firing.add(id);
    const pending = () => this.modules.get(module)?.timers.stored(timer.tag)?.raw === timer.raw;
    this.deliver(module, timer).then(
      () => {
        this.firing.delete(id);
        if (!pending() || this.stopped) return this.landed(module, entry);
        const wait = backoffDelay(attempts, TIMER_RETRY);
        const handle = this.clock.setTimeout(() => {
          this.retrying.delete(id);
          // Only the same timer: the module may have moved or cancelled it since.
          if (pending()) this.fire(module, timer, attempts + 1);
          else this.landed(module, entry);
        }, wait);
        this.retrying.set(id, { attempts: attempts + 1, handle });
      },
      (error: unknown) => {
        this.firing.delete(id);
        this.logger.error({ module, tag: timer.tag, err: error }, 'a timer could not be delivered');
        this.landed(module, entry);
      },
    );
  }
}

function firingId(module: string, timer: Timer): string {
  return `${module}\u0000${timer.tag}\u0000${timer.raw}`;
}
