import type { ActorSignalBase, InvocationSignal, LifecycleSignal } from '../actor/LifecycleSignal.ts';

/**
 * The chain reorganised below the oldest block the module can undo (its reorg window): its state may
 * hold effects of blocks that are no longer canonical. The module is halted, its state and cursor kept
 * as they were, for an operator to decide; the engine and the other modules carry on.
 */
export interface ReorgBeyondWindow extends ActorSignalBase {
  type: 'ReorgBeyondWindow';
  chainId: string;
  /** The module's cursor, no longer on the canonical chain. */
  cursor: { number: string; hash: string };
  windowBlocks: number;
}

/** What `supervisor.signals$` emits. */
export type SupervisorSignal = InvocationSignal | LifecycleSignal | ReorgBeyondWindow;
