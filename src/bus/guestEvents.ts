import type { ChainBlock, ChainLog } from '../chain/types.ts';

/** A WIT `event` as the guest receives it (jco's JS shape of the variant in wit/module.wit). */
export type GuestEvent =
  | { tag: 'block'; val: { chainId: bigint; number: bigint; hash: string; parentHash: string; timestamp: bigint } }
  | { tag: 'log'; val: ChainLog }
  | { tag: 'custom'; val: { topic: string; payload: string } }
  | { tag: 'timer'; val: string }
  | { tag: 'schedule'; val: { scheduledAt: bigint; name: string } }
  | { tag: 'message'; val: { from: string; seq: bigint; payload: string; correlationId: string | undefined; removed: boolean } };

/** Only the header fields of the WIT record: the bloom alone would add 512 characters to every clone. */
export function blockEvent(block: ChainBlock): GuestEvent {
  return { tag: 'block', val: { chainId: block.chainId, number: block.number, hash: block.hash, parentHash: block.parentHash, timestamp: block.timestamp } };
}

export function logEvent(log: ChainLog): GuestEvent {
  return { tag: 'log', val: log };
}

/** A log as JSON (journal records), and back. */
export function logToJson(log: ChainLog): Record<string, unknown> {
  return { ...log, chainId: String(log.chainId), blockNumber: String(log.blockNumber) };
}

export function logFromJson(json: Record<string, unknown>): ChainLog {
  return { ...(json as unknown as ChainLog), chainId: BigInt(json.chainId as string), blockNumber: BigInt(json.blockNumber as string) };
}

/**
 * The topic of the notice a module gets when undoing a reorged block left keys alone: keys the block
 * wrote that another source (a custom event, a timer, a job, another chain) wrote again before the undo.
 * They keep that later value; the notice is a `custom` event of the undo step, after its removed logs,
 * delivered whatever the module's triggers, with a JSON payload: `{ chainId, block, hash, keys }` (block
 * number and chain id as decimal strings, keys as hex).
 */
export const REORG_KEPT_TOPIC = 'corral/reorg-kept';

export function reorgKeptEvent(chainId: bigint, block: { number: bigint; hash: string }, keys: readonly Uint8Array[]): GuestEvent {
  const payload = { chainId: String(chainId), block: String(block.number), hash: block.hash, keys: keys.map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('hex')) };
  return { tag: 'custom', val: { topic: REORG_KEPT_TOPIC, payload: JSON.stringify(payload) } };
}
