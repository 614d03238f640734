import type { CallOutcome } from '../runtime/Component.ts';
import type { SignalName } from '../signals/signalFromData.ts';

/** One invocation of a module's handler that ran: what `engine.invocations$` tells. */
export interface InvocationRecord {
  module: string;
  /** `ok`; `rejected` when `on-event` returned `err` (its writes were dropped); or the signal that ended it. */
  outcome: 'ok' | 'rejected' | SignalName;
  durationMs: number;
  fuelUsed: number;
  /** When the guest started (epoch ms, sub-millisecond), when it did. */
  startedAt?: number;
}

/** Where a module stands on a chain: what metrics and readiness report. */
export interface ChainPosition {
  module: string;
  chainId: string;
  /** The chain's head as the engine follows it. */
  head: bigint | undefined;
  /** The module's cursor: the last block it fully handled. */
  block: bigint | undefined;
  /** It has reached the head (less its confirmations) at least once since the engine started. */
  caughtUp: boolean;
  /** Blocks its trigger's events wait below the head: lag beyond them is what readiness counts. */
  confirmations: number;
  /** Steps committed, and the events they carried, since the engine started. */
  steps: number;
  events: number;
  /** Keys of the module's that undone blocks had written and that kept a later write of another source. */
  keptOnUndo: number;
  /** Reorgs deeper than the chain's window that reached the module (each halted it) since it was loaded. */
  reorgsBeyondWindow: number;
}

/** One committed chain step of one module: what `engine.steps$` tells, for metrics and latency. */
export interface ChainStep {
  module: string;
  chainId: string;
  /** The block the module's cursor moved to (a range's last block when catching up). */
  number: bigint;
  hash: string;
  /** Events the guest handled in this step (0: only the cursor moved). */
  events: number;
  /** When the block reached the engine, for a live step (epoch ms, sub-millisecond). */
  seenAt?: number;
  /** When the guest's handler started in its worker (absent when there were no events). */
  startedAt?: number;
  /** When the step's commit completed. */
  committedAt: number;
}

/** The record of one invocation of `module` that ended with `outcome`. */
export function invocationRecord(module: string, outcome: CallOutcome): InvocationRecord {
  const fuelUsed = outcome.ok ? outcome.fuelUsed : 'fuelUsed' in outcome.signal && typeof outcome.signal.fuelUsed === 'number' ? outcome.signal.fuelUsed : 0;
  // A chain step returns one result per event; any `err` among them rejected the step.
  const rejected = outcome.ok && [outcome.value].flat().some((v) => (v as { tag?: string } | undefined)?.tag === 'err');
  const { startedAt } = outcome;
  return { module, outcome: outcome.ok ? (rejected ? 'rejected' : 'ok') : outcome.signal.name, durationMs: outcome.durationMs, fuelUsed, ...(startedAt === undefined ? {} : { startedAt }) };
}
