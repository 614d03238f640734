/** Where each method takes its block parameter (index into params), for the methods whose answer a block hash fixes. */
export const BLOCK_PARAM: Readonly<Record<string, number>> = {
  eth_call: 1,
  eth_getBalance: 1,
  eth_getCode: 1,
  eth_getTransactionCount: 1,
  eth_getStorageAt: 2,
  eth_getProof: 2,
};

/** A module request as it goes to the chain. */
export interface PinnedRequest {
  params: unknown[];
  /** Its answer is fixed by a block hash: the shared cache may answer it. */
  cacheable: boolean;
  /** The block it reads, when known: only endpoints that reached it are asked. */
  minBlock?: bigint;
}

/** The block a chain step ends at (InvocationScope.chainBlock), and the canonical hashes the follower holds. */
export interface PinTarget {
  number: bigint;
  hash: string;
  /** The canonical hash at a height the follower still holds, else undefined. */
  hashAt: (number: bigint) => string | undefined;
}

/**
 * Pins a module's request to a block hash where that is what the module means. Inside a chain step
 * (`at` set), `latest` or a missing block parameter means the block the step ends at (in a catch-up
 * step of many blocks, its last), and a number at or below it that the follower still holds means
 * that canonical block: both are sent as EIP-1898 `{ blockHash }`, so the answer cannot drift with
 * the head, and is cacheable. `eth_getLogs` with `toBlock` at `latest` (or none) ends at the delivered
 * number; one whose both ends are that block asks by `blockHash`. `pending`, `safe`, `finalized`,
 * `earliest` and numbers above the delivered block are left alone. Without `at` (a custom event, a
 * timer, a job, or `pin_latest = false`) nothing is rewritten; a request a module itself made at a
 * `{ blockHash }` is cacheable all the same.
 */
export function pinRequest(method: string, params: readonly unknown[], at: PinTarget | undefined): PinnedRequest {
  if (method === 'eth_getBlockByHash') return { params: [...params], cacheable: true };
  if (method === 'eth_getLogs') return pinLogs(params, at);
  const index = BLOCK_PARAM[method];
  if (index === undefined) return { params: [...params], cacheable: false };
  const out = [...params];
  const block = params[index];
  if (isBlockHashParam(block)) return { params: out, cacheable: true };
  if (!at || index > params.length) return { params: out, cacheable: false };
  const number = blockNumberOf(block, at);
  if (number === undefined) return { params: out, cacheable: false };
  const hash = number === at.number ? at.hash : at.hashAt(number);
  if (hash === undefined) return { params: out, cacheable: false };
  out[index] = { blockHash: hash };
  return { params: out, cacheable: true, minBlock: number };
}

function pinLogs(params: readonly unknown[], at: PinTarget | undefined): PinnedRequest {
  const filter = params[0];
  if (params.length !== 1 || typeof filter !== 'object' || filter === null || Array.isArray(filter)) return { params: [...params], cacheable: false };
  const f = filter as Record<string, unknown>;
  if (typeof f.blockHash === 'string') return { params: [...params], cacheable: true };
  if (!at) return { params: [...params], cacheable: false };
  const to = blockNumberOf(f.toBlock, at);
  if (to === undefined) return { params: [...params], cacheable: false };
  const from = f.fromBlock === undefined ? to : blockNumberOf(f.fromBlock, at);
  if (from === to && to === at.number) {
    const { fromBlock: _from, toBlock: _to, ...rest } = f;
    return { params: [{ ...rest, blockHash: at.hash }], cacheable: true, minBlock: to };
  }
  return { params: [{ ...f, toBlock: `0x${to.toString(16)}` }], cacheable: false, minBlock: to };
}

/** The height a block parameter names when it is `latest`, missing, or a number at or below the delivered block. */
function blockNumberOf(block: unknown, at: PinTarget): bigint | undefined {
  if (block === undefined || block === 'latest') return at.number;
  const text = typeof block === 'object' && block !== null && 'blockNumber' in block ? (block as { blockNumber: unknown }).blockNumber : block;
  if (typeof text !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(text)) return undefined;
  const number = BigInt(text);
  return number <= at.number ? number : undefined;
}

function isBlockHashParam(block: unknown): boolean {
  return typeof block === 'object' && block !== null && typeof (block as { blockHash?: unknown }).blockHash === 'string';
}
