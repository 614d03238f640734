import { assign, emit, setup } from 'xstate';
import { backoffDelay } from '../clock/backoff.ts';
import type { Clock } from '../clock/Clock.ts';
import type { SignalName } from '../signals/signalFromData.ts';
import type { LifecycleSignal } from './LifecycleSignal.ts';

/**
 * OTP restart types. An actor exits abnormally when a signal ends an invocation (a trap, a limit, a
 * `wasi:cli/exit` with an error status), and normally when its guest ends an invocation with
 * `wasi:cli/exit(ok)` (it says it is done). `permanent`: restarted after either (after a normal exit
 * the next event simply gets a fresh instance); `transient`: restarted after an abnormal exit only, it
 * stops after a normal one; `temporary`: never restarted, it stops after either. A stopped actor
 * refuses events until `supervisor.restart(name)`.
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

export interface BackoffOptions {
  /** First delay, ms. Default `DEFAULT_SUPERVISION.backoff` (src/limits/defaults.ts), as the rest. */
  initialMs: number;
  /** Upper bound of a delay, ms. */
  maxMs: number;
  /** Growth per consecutive failure. */
  factor: number;
  /** ± fraction of random spread, 0–1. */
  jitter: number;
}

export interface BreakerOptions {
  /** Time the circuit stays open the first time, ms. Default `DEFAULT_SUPERVISION.breaker`, as the rest. */
  cooldownMs: number;
  /** Growth of the cooldown after each failed probe. */
  factor: number;
  /** Upper bound of a cooldown, ms. */
  maxCooldownMs: number;
}

export interface ActorMachineInput {
  name: string;
  restart: RestartType;
  /** Restarts allowed within `periodMs`; one more opens the circuit. */
  intensity: number;
  periodMs: number;
  backoff: BackoffOptions;
  breaker: BreakerOptions;
  clock: Clock;
  /** Source of jitter, [0, 1). Injected so tests can fix it. */
  random: () => number;
  /** Discards the actor's instances (the component is rebuilt from its cached artifact on next use). */
  recycle: () => void;
}

export interface ActorMachineContext extends ActorMachineInput {
  /** Clock times of the restarts still inside the intensity period. */
  restartTimes: number[];
  /** Consecutive failures since the last success: drives the backoff. */
  attempt: number;
  backoffMs: number;
  /** The cooldown of the open circuit (what a failed probe lengthens). */
  cooldownMs: number;
  /** Clock time the circuit last opened: the cooldown runs from here, also across engine restarts. */
  openedAt: number;
  lastSignal: SignalName | null;
  quarantineReason: 'reached-max-restart-intensity' | 'probe-failed';
}

export type ActorMachineEvent =
  | { type: 'RUN' }
  | { type: 'SUCCEEDED' }
  | { type: 'FAILED'; signal: SignalName }
  /** The invocation succeeded and its guest exited normally (`wasi:cli/exit(ok)`); sent for non-permanent actors only. */
  | { type: 'EXITED' }
  | { type: 'RECYCLE' }
  | { type: 'REBUILT' }
  | { type: 'RESET' }
  /**
   * Open the circuit at start: the breaker store says it was open when the engine last stopped. Its
   * cooldown runs on from `openedAt`, so restarting the engine neither restarts nor skips it.
   */
  | { type: 'RESTORE_OPEN'; cooldownMs: number; openedAt: number }
  | { type: 'STOP'; reason: 'shutdown' | 'brutal-kill' | 'halted' }
  | { type: 'START' };

/** Signals that mean "a limit tripped" (the actor is exhausted) rather than "the guest broke". */
const LIMIT_SIGNALS: ReadonlySet<string> = new Set(['OutOfFuel', 'ExecutionTimeout', 'MemoryLimitExceeded', 'HostLimitExceeded']);

const restartsInPeriod = (context: ActorMachineContext) => {
  const since = context.clock.now() - context.periodMs;
  return context.restartTimes.filter((t) => t > since).length;
};

/**
 * The life of one actor. `loaded` and `running` alternate while all is well; a failure goes through
 * `exhausted` (a limit tripped) or straight to `recycled` (instances discarded), then `backoff`, then
 * `loaded` again. Too many restarts in the period open the circuit (`quarantined`); after a cooldown
 * `halfOpen` lets one event through as a probe (`probing`). Every transition that matters to an
 * operator emits a `LifecycleSignal`.
 */
export const actorMachine = setup({
  types: {
    input: {} as ActorMachineInput,
    context: {} as ActorMachineContext,
    events: {} as ActorMachineEvent,
    emitted: {} as LifecycleSignal,
  },
  guards: {
    isTemporary: ({ context }) => context.restart === 'temporary',
    reachedMaxRestartIntensity: ({ context }) => restartsInPeriod(context) >= context.intensity,
    isLimitSignal: ({ event }) => event.type === 'FAILED' && LIMIT_SIGNALS.has(event.signal),
  },
  delays: {
    backoff: ({ context }) => context.backoffMs,
    // What is left of the cooldown since the circuit opened; never more than all of it (a clock that
    // went back across a restart must not lengthen it).
    cooldown: ({ context }) => Math.min(context.cooldownMs, Math.max(0, context.openedAt + context.cooldownMs - context.clock.now())),
  },
  actions: {
    recordSignal: assign({
      lastSignal: ({ event, context }) => (event.type === 'FAILED' ? event.signal : context.lastSignal),
      attempt: ({ context }) => context.attempt + 1,
    }),
    forgetFailures: assign({ attempt: 0 }),
    discardInstances: ({ context }) => context.recycle(),
    chooseBackoff: assign({
      backoffMs: ({ context }) => backoffDelay(Math.max(0, context.attempt - 1), context.backoff, context.random),
    }),
    announceBackoff: emit(({ context }) => ({
      type: 'BackingOff' as const,
      actor: context.name,
      at: context.clock.now(),
      attempt: context.attempt,
      delayMs: context.backoffMs,
    })),
    recordRestart: assign({
      restartTimes: ({ context }) => {
        const since = context.clock.now() - context.periodMs;
        return [...context.restartTimes.filter((t) => t > since), context.clock.now()];
      },
    }),
    announceRestart: emit(({ context }) => ({
      type: 'Restarted' as const,
      actor: context.name,
      at: context.clock.now(),
      attempt: context.attempt,
    })),
    announceMaxIntensity: emit(({ context }) => ({
      type: 'ReachedMaxRestartIntensity' as const,
      actor: context.name,
      at: context.clock.now(),
      intensity: context.intensity,
      periodMs: context.periodMs,
    })),
    openCircuit: assign({ cooldownMs: ({ context }) => context.breaker.cooldownMs, openedAt: ({ context }) => context.clock.now(), quarantineReason: 'reached-max-restart-intensity' }),
    lengthenCooldown: assign({
      cooldownMs: ({ context }) => Math.min(context.breaker.maxCooldownMs, context.cooldownMs * context.breaker.factor),
      openedAt: ({ context }) => context.clock.now(),
      quarantineReason: 'probe-failed',
    }),
    announceQuarantine: emit(({ context }) => ({
      type: 'Quarantined' as const,
      actor: context.name,
      at: context.clock.now(),
      cooldownMs: context.cooldownMs,
      openedAt: context.openedAt,
      reason: context.quarantineReason,
    })),
    announceHalfOpen: emit(({ context }) => ({ type: 'HalfOpen' as const, actor: context.name, at: context.clock.now() })),
    closeCircuit: assign({ restartTimes: [], attempt: 0, cooldownMs: ({ context }) => context.breaker.cooldownMs }),
    announceRecoveredByProbe: emit(({ context }) => ({ type: 'Recovered' as const, actor: context.name, at: context.clock.now(), how: 'probe' as const })),
    announceRecoveredByReset: emit(({ context }) => ({ type: 'Recovered' as const, actor: context.name, at: context.clock.now(), how: 'reset' as const })),
    announceStopped: emit(({ context, event }) => ({
      type: 'Stopped' as const,
      actor: context.name,
      at: context.clock.now(),
      reason: event.type === 'STOP' ? event.reason : event.type === 'EXITED' ? ('normal' as const) : ('temporary' as const),
    })),
  },
}).createMachine({
  id: 'actor',
  context: ({ input }) => ({
    ...input,
    restartTimes: [],
    attempt: 0,
    backoffMs: 0,
    cooldownMs: input.breaker.cooldownMs,
    openedAt: 0,
    lastSignal: null,
    quarantineReason: 'reached-max-restart-intensity',
  }),
  initial: 'loaded',
  on: {
    STOP: { target: '.stopped', actions: 'announceStopped' },
  },
  states: {
    loaded: {
      on: {
        RUN: 'running',
        RESTORE_OPEN: {
          target: 'quarantined',
          actions: assign({ cooldownMs: ({ event }) => event.cooldownMs, openedAt: ({ event }) => event.openedAt, quarantineReason: 'reached-max-restart-intensity' }),
        },
      },
    },
    running: {
      on: {
        SUCCEEDED: { target: 'loaded', actions: 'forgetFailures' },
        EXITED: { target: 'stopped', actions: ['forgetFailures', 'announceStopped'] },
        FAILED: [
          { guard: 'isTemporary', target: 'stopped', actions: ['recordSignal', 'discardInstances', 'announceStopped'] },
          {
            guard: 'reachedMaxRestartIntensity',
            target: 'quarantined',
            actions: ['recordSignal', 'discardInstances', 'announceMaxIntensity', 'openCircuit'],
          },
          { guard: 'isLimitSignal', target: 'exhausted', actions: 'recordSignal' },
          { target: 'recycled', actions: 'recordSignal' },
        ],
      },
    },
    exhausted: {
      on: { RECYCLE: 'recycled' },
    },
    recycled: {
      entry: 'discardInstances',
      on: { REBUILT: 'backoff' },
    },
    backoff: {
      entry: ['chooseBackoff', 'announceBackoff'],
      after: { backoff: { target: 'loaded', actions: ['recordRestart', 'announceRestart'] } },
    },
    quarantined: {
      entry: 'announceQuarantine',
      after: { cooldown: { target: 'halfOpen', actions: 'announceHalfOpen' } },
      on: { RESET: { target: 'loaded', actions: ['closeCircuit', 'announceRecoveredByReset'] } },
    },
    halfOpen: {
      on: {
        RUN: 'probing',
        RESET: { target: 'loaded', actions: ['closeCircuit', 'announceRecoveredByReset'] },
      },
    },
    probing: {
      on: {
        SUCCEEDED: { target: 'loaded', actions: ['closeCircuit', 'announceRecoveredByProbe'] },
        EXITED: { target: 'stopped', actions: ['closeCircuit', 'announceRecoveredByProbe', 'announceStopped'] },
        FAILED: { target: 'quarantined', actions: ['recordSignal', 'discardInstances', 'lengthenCooldown'] },
      },
    },
    stopped: {
      on: { START: { target: 'loaded', actions: 'forgetFailures' } },
    },
  },
});

export type ActorStateName = 'loaded' | 'running' | 'exhausted' | 'recycled' | 'backoff' | 'quarantined' | 'halfOpen' | 'probing' | 'stopped';
