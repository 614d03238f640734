import type { Signal, SignalName } from '../signals/signalFromData.ts';

/*
 * What happens to an actor, as its supervisor tells it: the signal that ended an invocation and the
 * steps of its lifecycle (restart, backoff, circuit breaker, stop). Defined here, beside the actor whose
 * machine produces them; the supervisor adds what only it decides (ReorgBeyondWindow, SupervisorSignal.ts).
 */

/** Fields every supervisor signal carries; `at` comes from the supervisor's injected clock. */
export interface ActorSignalBase {
  actor: string;
  at: number;
}

/** A runtime signal that ended one of the actor's invocations. */
export interface InvocationSignal extends ActorSignalBase {
  type: SignalName;
  invocationId: string;
  signal: Signal;
}

/** The actor serves again after a failure, on fresh instances. `cause` names a sibling for group strategies. */
export interface Restarted extends ActorSignalBase {
  type: 'Restarted';
  attempt: number;
  cause?: string;
}

/** The actor waits `delayMs` (jittered exponential) before it serves again. */
export interface BackingOff extends ActorSignalBase {
  type: 'BackingOff';
  attempt: number;
  delayMs: number;
}

/**
 * The actor's circuit opened: events are refused until `cooldownMs` have passed since `openedAt`.
 * At engine start a circuit that was open is told again, with the `openedAt` it had (earlier than `at`).
 */
export interface Quarantined extends ActorSignalBase {
  type: 'Quarantined';
  cooldownMs: number;
  /** Clock time the circuit opened. */
  openedAt: number;
  reason: 'reached-max-restart-intensity' | 'probe-failed';
}

/** The cooldown passed: the next event is let through as a probe. */
export interface HalfOpen extends ActorSignalBase {
  type: 'HalfOpen';
}

/** The circuit closed again, after a successful probe or a manual reset. */
export interface Recovered extends ActorSignalBase {
  type: 'Recovered';
  how: 'probe' | 'reset';
}

export interface Stopped extends ActorSignalBase {
  type: 'Stopped';
  /**
   * `halted`: stopped by the engine for a reason of its own, signalled just before (e.g. ReorgBeyondWindow);
   * `temporary`: a temporary actor's invocation ended in a signal; `normal`: a transient or temporary
   * actor's guest exited normally (`wasi:cli/exit(ok)`), so it is not restarted.
   */
  reason: 'temporary' | 'normal' | 'shutdown' | 'brutal-kill' | 'halted';
}

/** More than `intensity` restarts within `periodMs`: the actor is quarantined instead of restarted. */
export interface ReachedMaxRestartIntensity extends ActorSignalBase {
  type: 'ReachedMaxRestartIntensity';
  intensity: number;
  periodMs: number;
}

export type LifecycleSignal = Restarted | BackingOff | Quarantined | HalfOpen | Recovered | Stopped | ReachedMaxRestartIntensity;
