import type { ActorInfo } from '../actor/Actor.ts';
import type { ChainPosition } from '../engine/records.ts';
import { DEFAULT_READINESS } from '../limits/defaults.ts';

/**
 * Why the engine is not ready. A module's reasons, most serious first:
 * - `halted`: the engine stopped it (a reorg deeper than its window); only an operator restarts it.
 * - `stopped`: its actor stopped (a `temporary` one after a signal, a `transient` or `temporary` one
 *   after its guest exited, or the engine is shutting down); only `engine.restart(name)` restarts it.
 * - `breaker-open`: quarantined: its circuit is open or half-open (too many restarts): its events
 *   are refused until a probe succeeds or an operator resets it.
 * - `catching-up`: it has not yet reached the head (less its confirmations) of `chain` since start.
 * - `lagging`: it had caught up, and is now more than `max_lag_blocks` behind the head of `chain`
 *   (less its confirmations).
 *
 * A chain's reasons (no `module`):
 * - `no-head`: a configured chain whose heads have not arrived yet: nothing on it can be ready.
 * - `chain-stalled`: no new head for `max_head_age_ms`: the node (or the link to it) stopped, and
 *   every module on it would look caught up while the chain moved on without it. Also, at once, when
 *   the chain has a pool of endpoints (`rpc_urls`, two or more) and none of them is healthy (each
 *   failed its last request or probe, or is ejected): nothing on the chain can move until one answers,
 *   and readiness comes back with the first that does.
 */
export type NotReadyReason = 'halted' | 'stopped' | 'breaker-open' | 'catching-up' | 'lagging' | 'no-head' | 'chain-stalled';

export interface NotReady {
  reason: NotReadyReason;
  /** The module, for a module's reason. */
  module?: string;
  /** The chain (id), for `catching-up`, `lagging` and the chain's own reasons. */
  chain?: string;
  /** For `catching-up` and `lagging`: blocks behind the head, less the module's confirmations (absent before its first block). */
  lagBlocks?: number;
  /** For `lagging`: the bound it passed (`max_lag_blocks`). */
  maxLagBlocks?: number;
  /** For `chain-stalled`: how long since the last new head (ms). */
  headAgeMs?: number;
  /** For `chain-stalled` of a pool: its healthy endpoints (0) and all of them. */
  endpointsHealthy?: number;
  endpoints?: number;
}

/** What `/readyz` answers (as JSON; status 200 when `ready`, 503 otherwise). */
export interface Readiness {
  /** Every configured chain has a fresh head and every module serves within its lag bound (vacuously with no modules). */
  ready: boolean;
  /** Every reason the engine is not ready: each chain's, then each module's in the supervisor's order. */
  notReady: NotReady[];
}

/** The bounds of `[engine.readiness]`. */
export interface ReadinessBounds {
  /** Blocks a caught-up module may fall behind the head (less its confirmations) and stay ready. */
  maxLagBlocks: number;
  /** A chain with no new head for longer than this (ms) is `chain-stalled`. */
  maxHeadAgeMs: number;
}

/** A configured chain as readiness sees it. */
export interface ChainHead {
  chainId: string;
  /** The followed head; undefined until the first head arrived. */
  head: bigint | undefined;
  /** Since when (ms, on the clock readiness is judged by) no new head arrived; undefined before the first. */
  headAgeMs: number | undefined;
  /** For a pool of two or more endpoints: how many are healthy now, of how many (src/chain/EndpointHealth.ts). */
  endpoints?: { healthy: number; total: number };
}

/**
 * The engine's readiness now: not a latch. A module that caught up and later halts, stops, has its
 * circuit opened or falls behind makes the engine not ready again until it serves and catches up.
 * An engine with chains is never ready by default: each configured chain needs a head, and a fresh one.
 * With no chain configured, ready means every module serves (there is nothing to catch up with).
 */
export function readinessOf(
  actors: Pick<ActorInfo, 'name' | 'state' | 'breaker' | 'stopReason'>[],
  positions: Pick<ChainPosition, 'module' | 'chainId' | 'caughtUp' | 'head' | 'block' | 'confirmations'>[],
  chains: ChainHead[] = [],
  bounds: ReadinessBounds = DEFAULT_READINESS,
): Readiness {
  const notReady: NotReady[] = [];
  const headless = new Set<string>();
  for (const chain of chains) {
    if (chain.head === undefined) {
      headless.add(chain.chainId);
      notReady.push({ chain: chain.chainId, reason: 'no-head' });
    } else {
      const old = chain.headAgeMs !== undefined && chain.headAgeMs > bounds.maxHeadAgeMs;
      const unserved = chain.endpoints !== undefined && chain.endpoints.healthy === 0;
      if (old || unserved) {
        notReady.push({
          chain: chain.chainId,
          reason: 'chain-stalled',
          ...(chain.headAgeMs === undefined ? {} : { headAgeMs: Math.round(chain.headAgeMs) }),
          ...(chain.endpoints === undefined ? {} : { endpointsHealthy: chain.endpoints.healthy, endpoints: chain.endpoints.total }),
        });
      }
    }
  }
  const byModule = new Map<string, typeof positions>();
  for (const p of positions) byModule.set(p.module, [...(byModule.get(p.module) ?? []), p]);
  for (const actor of actors) {
    if (actor.state === 'stopped') {
      notReady.push({ module: actor.name, reason: actor.stopReason === 'halted' ? 'halted' : 'stopped' });
      continue;
    }
    if (actor.breaker !== 'closed') {
      notReady.push({ module: actor.name, reason: 'breaker-open' });
      continue;
    }
    for (const p of byModule.get(actor.name) ?? []) {
      // A chain without a head is named once, as the chain's reason: every module on it waits for it.
      if (p.head === undefined || headless.has(p.chainId)) continue;
      const lag = p.block === undefined ? undefined : Math.max(0, Number(p.head - p.block) - p.confirmations);
      const lagBlocks = lag === undefined ? {} : { lagBlocks: lag };
      if (!p.caughtUp) notReady.push({ module: actor.name, chain: p.chainId, reason: 'catching-up', ...lagBlocks });
      else if (lag !== undefined && lag > bounds.maxLagBlocks) notReady.push({ module: actor.name, chain: p.chainId, reason: 'lagging', lagBlocks: lag, maxLagBlocks: bounds.maxLagBlocks });
    }
  }
  return { ready: notReady.length === 0, notReady };
}
