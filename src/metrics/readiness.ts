import type { ActorInfo } from '../actor/Actor.ts';
import type { ChainPosition } from '../engine/records.ts';

/**
 * Why a module keeps the engine from being ready, most serious first:
 * - `halted`: the engine stopped it (a reorg deeper than its window); only an operator restarts it.
 * - `stopped`: its actor stopped (a `temporary` one after a signal, a `transient` or `temporary` one
 *   after its guest exited, or the engine is shutting down); only `engine.restart(name)` restarts it.
 * - `breaker-open`: its circuit is open or half-open (quarantined after too many restarts): its events
 *   are refused until a probe succeeds or an operator resets it.
 * - `catching-up`: it has not yet reached the head (less its confirmations) of the chains listed.
 */
export type NotReadyReason = 'halted' | 'stopped' | 'breaker-open' | 'catching-up';

export interface ModuleNotReady {
  module: string;
  reason: NotReadyReason;
  /** For `catching-up`: the chains (ids) it has not caught up with. */
  chains?: string[];
}

/** What `/readyz` answers (as JSON; status 200 when `ready`, 503 otherwise). */
export interface Readiness {
  /** Every module serves and has caught up with every chain it follows (vacuously with no modules). */
  ready: boolean;
  /** The modules that are not ready, in the supervisor's order, each with its most serious reason. */
  notReady: ModuleNotReady[];
}

/**
 * The engine's readiness now: not a latch. A module that caught up and later halts, stops or has its
 * circuit opened makes the engine not ready again until it serves again. With no chain configured,
 * ready means every module serves (there is nothing to catch up with).
 */
export function readinessOf(actors: Pick<ActorInfo, 'name' | 'state' | 'breaker' | 'stopReason'>[], positions: Pick<ChainPosition, 'module' | 'chainId' | 'caughtUp'>[]): Readiness {
  const behind = new Map<string, string[]>();
  for (const p of positions) if (!p.caughtUp) behind.set(p.module, [...(behind.get(p.module) ?? []), p.chainId]);
  const notReady: ModuleNotReady[] = [];
  for (const actor of actors) {
    if (actor.state === 'stopped') notReady.push({ module: actor.name, reason: actor.stopReason === 'halted' ? 'halted' : 'stopped' });
    else if (actor.breaker !== 'closed') notReady.push({ module: actor.name, reason: 'breaker-open' });
    else if (behind.has(actor.name)) notReady.push({ module: actor.name, reason: 'catching-up', chains: behind.get(actor.name)! });
  }
  return { ready: notReady.length === 0, notReady };
}
