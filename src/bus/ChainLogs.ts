import type { ChainRpc } from '../chain/ChainRpc.ts';
import { fetchLogRange } from '../chain/fetchLogRange.ts';
import { mayHoldLogs } from '../chain/mayHoldLogs.ts';
import type { ChainBlock, ChainLog, LogFilter } from '../chain/types.ts';
import { RECENT_BLOCK_LOGS } from '../limits/defaults.ts';

/**
 * One chain's log fetching, shared by every module: a filter's logs of a block are fetched once
 * however many modules want them (concurrent requests for the same filter and block, or the same
 * filter and range, share one `eth_getLogs`), and not at all when the block has no transactions or
 * its bloom rules the filter out.
 */
export class ChainLogs {
  private readonly inflight = new Map<string, Promise<ChainLog[]>>();
  /** Recent per-block answers, so modules a little behind the others still share them. */
  private readonly recent = new Map<string, ChainLog[]>();
  /** Largest range per `eth_getLogs`; halved for good when the node refuses a range as too large. */
  readonly range: { max: number };

  constructor(
    private readonly client: ChainRpc,
    maxRange: number,
    private readonly recentLimit = RECENT_BLOCK_LOGS,
  ) {
    this.range = { max: maxRange };
  }

  /** The logs of `filter` in `block`, fetched by block hash: exactly that block's, whatever the chain did since. */
  blockLogs(key: string, filter: LogFilter, block: ChainBlock): Promise<ChainLog[]> {
    if (!mayHoldLogs(block, filter)) return Promise.resolve([]);
    const id = `${key}@${block.hash}`;
    const known = this.recent.get(id);
    if (known) return Promise.resolve(known);
    return this.shared(id, async () => {
      const logs = await this.client.logs(filter, { blockHash: block.hash, number: block.number }, 'live');
      this.recent.set(id, logs);
      if (this.recent.size > this.recentLimit) this.recent.delete(this.recent.keys().next().value!);
      return logs;
    });
  }

  /** The logs of `filter` over [from, to] (blocks the engine treats as final), in chunks. */
  rangeLogs(key: string, filter: LogFilter, from: bigint, to: bigint): Promise<ChainLog[]> {
    return this.shared(`${key}@${from}-${to}`, () => fetchLogRange(this.client, filter, from, to, this.range, 'backfill'));
  }

  private shared(id: string, fetch: () => Promise<ChainLog[]>): Promise<ChainLog[]> {
    let pending = this.inflight.get(id);
    if (!pending) {
      pending = fetch().finally(() => this.inflight.delete(id));
      this.inflight.set(id, pending);
    }
    return pending;
  }
}
