import type { ChainRpc } from './ChainRpc.ts';
import type { RpcPurpose } from './RpcStats.ts';
import type { ChainLog, LogFilter } from './types.ts';

/**
 * Logs of `filter` over [from, to], in chunks of at most `range.max` blocks. A node that refuses a
 * range as too large (or its answer as too big) gets the chunk halved, down to one block; the smaller
 * size is kept in `range.max` for the requests that follow, so one refusal teaches the whole engine.
 */
export async function fetchLogRange(
  client: Pick<ChainRpc, 'logs'>,
  filter: LogFilter,
  from: bigint,
  to: bigint,
  range: { max: number },
  purpose: RpcPurpose,
): Promise<ChainLog[]> {
  const logs: ChainLog[] = [];
  let start = from;
  while (start <= to) {
    const end = minOf(to, start + BigInt(range.max) - 1n);
    try {
      const chunk = await client.logs(filter, { fromBlock: start, toBlock: end }, purpose);
      for (const log of chunk) logs.push(log);
      start = end + 1n;
    } catch (error) {
      if (!isRangeTooLarge(error) || end === start) throw error;
      // Never back up: another fetch may have learned a smaller size meanwhile.
      range.max = Math.min(range.max, Math.max(1, Math.floor(Number(end - start + 1n) / 2)));
    }
  }
  return logs;
}

/**
 * Providers say "too large" in many ways: JSON-RPC -32005 (limit exceeded), or -32602/-32000/-32603
 * with a message about the range, the result count, or the response size. viem itself refuses an
 * HTTP answer over 10 MiB (ResponseBodyTooLargeError): a smaller range is the cure for that too.
 */
export function isRangeTooLarge(error: unknown): boolean {
  for (let e = error as { code?: number; name?: string; details?: string; message?: string; cause?: unknown } | undefined, depth = 0; e && depth < 8; e = e.cause as typeof e, depth++) {
    if (e.code === -32005 || e.name === 'ResponseBodyTooLargeError') return true;
    const text = `${e.details ?? ''} ${e.message ?? ''}`.toLowerCase();
    if (/(block range|range too (large|wide|big)|too many (blocks|results|logs)|more than \d+ results|response size|limit exceeded|exceeds? (the )?(max|limit)|query timeout)/.test(text)) return true;
  }
  return false;
}

const minOf = (a: bigint, b: bigint) => (a < b ? a : b);
