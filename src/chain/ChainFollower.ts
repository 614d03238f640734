import type { Logger } from 'pino';
import type { ChainRpc } from './ChainRpc.ts';
import { blockAt } from './blockAt.ts';
import { classifyHead } from './classifyHead.ts';
import { coalesceHead } from './coalesceHead.ts';
import { isChained } from './isChained.ts';
import { joinWindow, type Join } from './joinWindow.ts';
import { replaceWindow } from './replaceWindow.ts';
import { RpcDataError } from './RpcDataError.ts';
import type { ChainBlock } from './types.ts';

/** What the follower asks of a chain's node: its chain id and headers by number or hash. */
export type ChainNode = Pick<ChainRpc, 'chainId' | 'blockByNumber' | 'blockByHash'>;

export interface ChainFollowerOptions {
  /** Canonical headers kept, newest first; also the deepest reorg followed header by header. */
  windowBlocks: number;
  logger: Logger;
  /** Told after every change of the canonical chain: new blocks (ascending) and the blocks they replaced. */
  onChange?: (change: CanonicalChange) => void;
}

/** A change of the canonical chain. `abandoned` is non-empty on a reorg (oldest first). */
export interface CanonicalChange {
  added: ChainBlock[];
  abandoned: ChainBlock[];
}

/**
 * Follows one chain's canonical head. Heads come in from a source (WebSocket or polling, in any
 * order, with gaps and repeats); the follower keeps the last `windowBlocks` canonical headers linked
 * by parent hash, fetches the headers it has not seen, and notices a reorg when a new header does not
 * build on the block it holds at that height. It knows nothing of modules: they compare their own
 * cursors with `hashAt`, so a reorg found live and one found after a restart take the same path.
 */
export class ChainFollower {
  /** Contiguous canonical headers, oldest first. */
  private window: readonly ChainBlock[] = [];
  /**
   * The one head waiting while another is linked: a newer head replaces it (link fetches whatever lies
   * between the tip and the head itself, so nothing is lost), so a node slower than its blocks costs
   * one waiting head, not a queue that grows without bound. `'latest'` when waiting heads disagreed.
   */
  private pending: ChainBlock | 'latest' | undefined;
  /** The loop linking waiting heads, while one runs. */
  private draining: Promise<void> | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly client: ChainNode,
    private readonly options: ChainFollowerOptions,
  ) {}

  get chainId(): bigint {
    return this.client.chainId;
  }

  /** The newest canonical header, once the first head arrived. */
  get tip(): ChainBlock | undefined {
    return this.window[this.window.length - 1];
  }

  /**
   * Takes a head from a source. One head is linked at a time; heads that arrive meanwhile coalesce
   * into one (see `pending`). Resolves once no head is waiting; errors are logged, never thrown.
   */
  ingest(head: ChainBlock): Promise<void> {
    this.pending = coalesceHead(this.pending, head);
    return (this.draining ??= this.drain());
  }

  private async drain(): Promise<void> {
    try {
      for (let next = this.pending; next; next = this.pending) {
        this.pending = undefined;
        try {
          await this.link(next === 'latest' ? await this.client.blockByNumber('latest', 'live') : next);
        } catch (error) {
          const level = error instanceof RpcDataError ? 'error' : 'warn';
          const head = next === 'latest' ? 'latest' : String(next.number);
          this.options.logger[level]({ chainId: String(this.chainId), err: error, head }, 'could not follow a new head; the next one retries');
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  /** Resolves at the next change of the canonical chain (or at once if `since` is no longer the tip). */
  changed(since?: ChainBlock): Promise<void> {
    if (since && this.tip && this.tip.hash !== since.hash) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  /** Wakes everyone waiting in `changed` (at shutdown). */
  wakeAll(): void {
    for (const resolve of this.waiters) resolve();
    this.waiters.clear();
  }

  /** The canonical header at `number` if the window holds it (never asks the node). */
  heldAt(number: bigint): ChainBlock | undefined {
    return blockAt(this.window, number);
  }

  /** The canonical header at `number`: from the window, else from the node. */
  async headerAt(number: bigint, purpose: 'live' | 'backfill' | 'reorg'): Promise<ChainBlock> {
    return blockAt(this.window, number) ?? this.client.blockByNumber(number, purpose);
  }

  /**
   * Is `hash` the canonical block at `number`? Blocks below the window are asked of the node; a block
   * above the tip is not (the chain got shorter in a reorg).
   */
  async isCanonical(number: bigint, hash: string): Promise<boolean> {
    if (number < 0n) return true;
    if (this.tip && number > this.tip.number) return false;
    return (await this.headerAt(number, 'reorg')).hash === hash;
  }

  private async link(head: ChainBlock, confirmed = false): Promise<void> {
    const action = classifyHead(this.window, head, confirmed, this.options.windowBlocks);
    if (action.kind === 'first') return this.commit([head], { kind: 'joins', keep: 0 });
    if (action.kind === 'known') return;
    if (action.kind === 'stale') {
      const latest = await this.client.blockByNumber('latest', 'reorg');
      if (latest.hash === head.hash) return this.link(head, true);
      this.options.logger.info({ chainId: String(this.chainId), head: String(head.number), tip: String(this.tip!.number), latest: String(latest.number) }, 'stale head ignored');
      return this.link(latest, true);
    }
    return this.extend(head, action.between);
  }

  /**
   * Fetches what lies between the tip and `head`, towards the head by number, then walks back by parent
   * hash until the new blocks join the window (a reorg) or the window's tip (no reorg).
   */
  private async extend(head: ChainBlock, between: bigint[]): Promise<void> {
    const added: ChainBlock[] = [...(await Promise.all(between.map((n) => this.client.blockByNumber(n, 'live')))), head];
    // The chain moved while we fetched by number: start again from the newest head.
    if (!isChained(added)) return this.link(await this.client.blockByNumber('latest', 'live'));
    for (;;) {
      const join = joinWindow(this.window, added);
      if (join.kind !== 'parent') {
        if (join.kind === 'replace' && join.reason === 'reorg') this.options.logger.warn({ chainId: String(this.chainId), from: String(added[0]!.number) }, 'reorg deeper than the followed window');
        return this.commit(added, join);
      }
      const oldest = added[0]!;
      // Only a node that has the head has its branch: one behind would answer null, a false "no such block".
      const previous = await this.client.blockByHash(oldest.parentHash, 'reorg', head.number);
      if (!previous) throw new RpcDataError('inconsistent', { chainId: String(this.chainId), method: 'eth_getBlockByHash', field: 'block', value: 'null', expected: `the parent ${oldest.parentHash} of block ${oldest.number}` });
      if (previous.number !== oldest.number - 1n) {
        throw new RpcDataError('inconsistent', { chainId: String(this.chainId), method: 'eth_getBlockByHash', field: 'block.number', value: String(previous.number), expected: `${oldest.number - 1n}, the parent's height` });
      }
      added.unshift(previous);
    }
  }

  /** Joins `added` to the window as `join` says, trims it, and tells the listeners. */
  private commit(added: ChainBlock[], join: Exclude<Join, { kind: 'parent' }>): void {
    const now = performance.timeOrigin + performance.now();
    for (const block of added) block.seenAt ??= now; // fetched here rather than pushed by the source
    const { window, abandoned } = replaceWindow(this.window, added, join, this.options.windowBlocks);
    this.window = window;
    if (abandoned.length > 0) {
      this.options.logger.info({ chainId: String(this.chainId), depth: abandoned.length, ancestor: String(added[0]!.number - 1n) }, 'reorg');
    }
    this.options.onChange?.({ added, abandoned });
    for (const resolve of this.waiters) resolve();
    this.waiters.clear();
  }
}
