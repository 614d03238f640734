import type { Logger } from 'pino';
import type { Clock } from '../clock/Clock.ts';
import type { Write } from '../store/EngineStore.ts';
import type { ModuleTimers, Timer } from './ModuleTimers.ts';

/** How long a timer whose event was not handled (circuit open, a failing handler) waits before it fires again. */
export const TIMER_RETRY_MS = 1_000;

/**
 * Fires the modules' timers: time timers when the (injected) clock reaches them, block timers once
 * the module has committed that block. Firing is delivering a `timer(tag)` event; the timer is gone
 * only when that event's invocation commits (its deletion is staged in it), so a timer fires until
 * it is handled, and once handled never again: one still stored after its delivery (refused by an open
 * circuit, or its handler failed) fires again `TIMER_RETRY_MS` later.
 */
export class TimerScheduler {
  private readonly modules = new Map<string, ModuleTimers>();
  private readonly firing = new Set<string>();
  private readonly retries = new Set<unknown>();
  private handle: unknown;
  private armedAt: number | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly deliver: (module: string, timer: Timer) => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  /** A module's timers, once it serves: time timers already due fire now; block timers at or below `handled` (its cursor per chain) too. */
  add(module: string, timers: ModuleTimers, handled: ReadonlyMap<bigint, bigint>): void {
    this.modules.set(module, timers);
    for (const [chain, block] of handled) this.blockHandled(module, chain, block);
    this.arm();
  }

  remove(module: string): void {
    this.modules.delete(module);
    this.arm();
  }

  /** A commit of `module` wrote these keys: its timers follow. */
  committed(module: string, writes: readonly Write[]): void {
    if (this.modules.get(module)?.apply(writes)) this.arm();
  }

  /** `module` committed block `block` of `chain`. */
  blockHandled(module: string, chain: bigint, block: bigint): void {
    for (const timer of this.modules.get(module)?.dueBlock(chain, block) ?? []) this.fire(module, timer);
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    for (const retry of this.retries) this.clock.clearTimeout(retry);
    this.retries.clear();
  }

  /** One clock timeout, for the earliest time timer of any module. */
  private arm(): void {
    if (this.stopped) return;
    let next: number | undefined;
    // Timers being delivered are not armed again: they come back through `committed` (consumed) or a retry.
    for (const [module, timers] of this.modules) {
      const at = timers.next((timer) => this.firing.has(firingId(module, timer)));
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    if (next === this.armedAt && this.handle !== undefined) return;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.armedAt = next;
    if (next === undefined) return;
    // Node's timers take at most 2^31-1 ms: a later timer re-arms on the way.
    this.handle = this.clock.setTimeout(() => this.fireDue(), Math.min(Math.max(0, next - this.clock.now()), 2_147_483_647));
  }

  private fireDue(): void {
    this.handle = undefined;
    this.armedAt = undefined;
    const now = this.clock.now();
    for (const [module, timers] of this.modules) for (const timer of timers.dueAt(now)) this.fire(module, timer);
    this.arm();
  }

  private fire(module: string, timer: Timer): void {
    const id = firingId(module, timer);
    if (this.stopped || this.firing.has(id)) return;
    this.firing.add(id);
    const pending = () => this.modules.get(module)?.get(timer.tag)?.raw === timer.raw;
    this.deliver(module, timer).then(
      () => {
        this.firing.delete(id);
        if (!pending() || this.stopped) return;
        const retry = this.clock.setTimeout(() => {
          this.retries.delete(retry);
          // Only the same timer: the module may have moved or cancelled it since.
          if (pending()) this.fire(module, timer);
        }, TIMER_RETRY_MS);
        this.retries.add(retry);
      },
      (error: unknown) => {
        this.firing.delete(id);
        this.logger.error({ module, tag: timer.tag, err: error }, 'a timer could not be delivered');
      },
    );
  }
}

function firingId(module: string, timer: Timer): string {
  return `${module}\u0000${timer.tag}\u0000${timer.raw}`;
}
