import { captureLogger } from '../helpers.ts';
import type { SupervisorSignal } from '../../src/index.ts';
import type { Actor } from '../../src/actor/Actor.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Supervisor, type SupervisorOptions } from '../../src/supervisor/Supervisor.ts';

/** A supervisor on a manual clock (at 1,000 unless given), with fixed jitter, recording its signals and log lines. */
export function supervised(options: SupervisorOptions & { clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock(1_000);
  const { logger, records: logs } = captureLogger();
  const supervisor = new Supervisor({ clock, random: () => 0.5, logger, ...options });
  const signals: SupervisorSignal[] = [];
  supervisor.signals$.subscribe((s) => signals.push(s));
  return { supervisor, clock, signals, logs, types: () => signals.map((s) => s.type) };
}

/** Every state an actor's machine passes through, in order. */
export function stateLog(actor: Actor): string[] {
  const states: string[] = [actor.state];
  actor.machine.subscribe((snapshot) => {
    const value = snapshot.value as string;
    if (states.at(-1) !== value) states.push(value);
  });
  return states;
}
