import type { ChainBlock, ChainLog } from '../chain/types.ts';

/** A WIT `event` as the guest receives it (jco's JS shape of the variant in wit/module.wit). */
export type GuestEvent =
  | { tag: 'block'; val: { chainId: bigint; number: bigint; hash: string; parentHash: string; timestamp: bigint } }
  | { tag: 'log'; val: ChainLog }
  | { tag: 'custom'; val: { topic: string; payload: string } }
  | { tag: 'timer'; val: string }
  | { tag: 'schedule'; val: { scheduledAt: bigint; name: string } };

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
