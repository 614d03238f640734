import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { CronTrigger } from '../bus/triggers.ts';
import type { Clock } from '../clock/Clock.ts';
import { MAX_TIMER_DELAY_MS } from '../limits/defaults.ts';
import type { ModuleStore } from '../store/EngineStore.ts';
import { cronKey } from '../store/reservedKeys.ts';
import type { StateTransaction } from '../store/StateTransaction.ts';
import type { Bookkeeping } from './timerWrites.ts';

/** A cron trigger's name: its own, or its expression. */
export function cronName(trigger: CronTrigger): string {
  return trigger.name ?? trigger.schedule;
}

/** Each trigger's last handled tick, from the module's committed state (absent: never). */
export async function lastTicks(state: ModuleStore, triggers: readonly CronTrigger[]): Promise<Map<string, number>> {
  const ticks = new Map<string, number>();
  for (const trigger of triggers) {
    const stored = await state.get(cronKey(cronName(trigger)));
    if (stored) ticks.set(cronName(trigger), Number(Buffer.from(stored).toString('utf8')));
  }
  return ticks;
}

/**
 * Stages a cron trigger's tick as its last handled one in the transaction of the invocation it wakes;
 * the write, for a commit of its own when the handler answers `err` (the tick is handled either way).
 */
export function recordTick(transaction: StateTransaction, cron: { name: string; tick: number }): Bookkeeping {
  const key = cronKey(cron.name);
  const value = Buffer.from(String(cron.tick), 'utf8');
  const previous = transaction.get(key);
  transaction.set(key, value);
  return { writes: [{ key, value }], sizeDelta: value.byteLength - (previous ? previous.byteLength : -key.byteLength) };
}

interface Entry {
  name: string;
  cron: Cron;
  handle: unknown;
}

/**
 * Delivers the ticks of the modules' `cron` triggers as `schedule` events, on the injected clock. The
 * invocation a tick wakes records it as the trigger's last handled tick (in the module's reserved
 * keys, committed with the handler's writes), so a tick is handled once; ticks missed while the
 * engine was stopped (or the module away) are coalesced: the latest of them is delivered at start.
 * A module that first starts gets no ticks from before it existed.
 */
export class CronScheduler {
  private readonly modules = new Map<string, Entry[]>();
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly deliver: (module: string, name: string, tick: number) => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  /** `lastHandled`: each trigger's last handled tick, from the store (undefined: never). */
  add(module: string, triggers: readonly CronTrigger[], lastHandled: ReadonlyMap<string, number>): void {
    if (triggers.length === 0 || this.stopped) return;
    const entries = triggers.map((t) => ({ name: cronName(t), cron: new Cron(t.schedule, { paused: true, timezone: t.timezone ?? 'UTC' }), handle: undefined as unknown }));
    this.modules.set(module, entries);
    const now = this.clock.now();
    for (const entry of entries) {
      const last = lastHandled.get(entry.name);
      const missed = entry.cron.previousRuns(1, new Date(now))[0]?.getTime();
      if (last !== undefined && missed !== undefined && missed > last) this.fire(module, entry.name, missed);
      this.arm(module, entry);
    }
  }

  remove(module: string): void {
    for (const entry of this.modules.get(module) ?? []) this.clock.clearTimeout(entry.handle);
    this.modules.delete(module);
  }

  stop(): void {
    this.stopped = true;
    for (const module of [...this.modules.keys()]) this.remove(module);
  }

  private arm(module: string, entry: Entry): void {
    if (this.stopped) return;
    const now = this.clock.now();
    let next = entry.cron.nextRun(new Date(now))?.getTime();
    // Strictly after now: a tick that just fired must not be armed again.
    if (next !== undefined && next <= now) next = entry.cron.nextRun(new Date(now + 1_000))?.getTime();
    if (next === undefined) return;
    // Node's timers take at most 2^31-1 ms: a tick further away re-arms on the way.
    const wait = Math.min(next - now, MAX_TIMER_DELAY_MS);
    entry.handle = this.clock.setTimeout(() => {
      if (this.clock.now() >= next) this.fire(module, entry.name, next);
      this.arm(module, entry);
    }, wait);
  }

  private fire(module: string, name: string, tick: number): void {
    this.deliver(module, name, tick).catch((error: unknown) => this.logger.error({ module, cron: name, err: error }, 'a cron tick could not be delivered'));
  }
}
