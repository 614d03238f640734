import type { FeedDelivery, FeedResult, FeedTarget } from '../bus/ModuleFeed.ts';
import type { BlockCursor } from '../chain/types.ts';
import type { Bytes, ModuleStore } from '../store/EngineStore.ts';
import { isReserved } from '../store/reservedKeys.ts';

/** A module's side of its chain feeds (engine/ModuleRuntime.ts), each chain named. */
export interface ChainSide {
  readonly name: string;
  readonly store: ModuleStore;
  deliverChain(chainId: bigint, delivery: FeedDelivery): Promise<FeedResult>;
  whenServing(): Promise<void>;
  reorgBeyondWindow(chainId: bigint, cursor: BlockCursor, windowBlocks: number): void;
  writtenSince(chainId: bigint, number: bigint, key: Bytes): boolean;
}

/** Where one chain's feed delivers for one module: the module's own methods, with the chain filled in. */
export class ChainTarget implements FeedTarget {
  constructor(
    private readonly side: ChainSide,
    private readonly chainId: bigint,
  ) {}

  get module(): string {
    return this.side.name;
  }

  get store(): ModuleStore {
    return this.side.store;
  }

  deliver(delivery: FeedDelivery): Promise<FeedResult> {
    return this.side.deliverChain(this.chainId, delivery);
  }

  whenServing(): Promise<void> {
    return this.side.whenServing();
  }

  reorgBeyondWindow(cursor: BlockCursor, windowBlocks: number): void {
    this.side.reorgBeyondWindow(this.chainId, cursor, windowBlocks);
  }

  writtenSince(block: bigint, key: Bytes): boolean {
    return this.side.writtenSince(this.chainId, block, key);
  }

  /** corral's own keys (timers, tasks): undone by the same rule as the module's, never named to it. */
  reservedKey(key: Bytes): boolean {
    return isReserved(key);
  }
}
