import type { Signal, SignalName } from '../signals/signalFromData.ts';

/** Fields every supervisor signal carries; `at` comes from the supervisor's injected clock. */
interface Base {
  actor: string;
  at: number;
}

/** A runtime signal that ended one of the actor's invocations. */
export interface InvocationSignal extends Base {
  type: SignalName;
  invocationId: string;
  signal: Signal;
}

/** The actor serves again after a failure, on fresh instances. `cause` names a sibling for group strategies. */
export interface Restarted extends Base {
  type: 'Restarted';
  attempt: number;
  cause?: string;
}

/** The actor waits `delayMs` (jittered exponential) before it serves again. */
export interface BackingOff extends Base {
  type: 'BackingOff';
  attempt: number;
  delayMs: number;
}

/**
 * The actor's circuit opened: events are refused until `cooldownMs` have passed since `openedAt`.
 * At engine start a circuit that was open is told again, with the `openedAt` it had (earlier than `at`).
 */
export interface Quarantined extends Base {
  type: 'Quarantined';
  cooldownMs: number;
  /** Clock time the circuit opened. */
  openedAt: number;
  reason: 'reached-max-restart-intensity' | 'probe-failed';
}

/** The cooldown passed: the next event is let through as a probe. */
export interface HalfOpen extends Base {
  type: 'HalfOpen';
}

/** The circuit closed again, after a successful probe or a manual reset. */
export interface Recovered extends Base {
  type: 'Recovered';
  how: 'probe' | 'reset';
}

export interface Stopped extends Base {
  type: 'Stopped';
  /**
   * `halted`: stopped by the engine for a reason of its own, signalled just before (e.g. ReorgBeyondWindow);
   * `temporary`: a temporary actor's invocation ended in a signal; `normal`: a transient or temporary
   * actor's guest exited normally (`wasi:cli/exit(ok)`), so it is not restarted.
   */
  reason: 'temporary' | 'normal' | 'shutdown' | 'brutal-kill' | 'halted';
}

/**
 * The chain reorganised below the oldest block the module can undo (its reorg window): its state may
 * hold effects of blocks that are no longer canonical. The module is halted, its state and cursor kept
 * as they were, for an operator to decide; the engine and the other modules carry on.
 */
export interface ReorgBeyondWindow extends Base {
  type: 'ReorgBeyondWindow';
  chainId: string;
  /** The module's cursor, no longer on the canonical chain. */
  cursor: { number: string; hash: string };
  windowBlocks: number;
}

/** More than `intensity` restarts within `periodMs`: the actor is quarantined instead of restarted. */
export interface ReachedMaxRestartIntensity extends Base {
  type: 'ReachedMaxRestartIntensity';
  intensity: number;
  periodMs: number;
}

export type LifecycleSignal = Restarted | BackingOff | Quarantined | HalfOpen | Recovered | Stopped | ReachedMaxRestartIntensity;

/** What `supervisor.signals$` emits. */
export type SupervisorSignal = InvocationSignal | LifecycleSignal | ReorgBeyondWindow;
