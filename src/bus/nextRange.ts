/**
 * The catch-up range after the one ending at `after`, up to `to`, at most `maxRange` blocks long (the
 * size `eth_getLogs` currently takes: see fetchLogRange); none once `to` is reached.
 */
export function nextRange(after: bigint, to: bigint, maxRange: number): { from: bigint; end: bigint } | undefined {
  const from = after + 1n;
  if (from > to) return undefined;
  const end = from + BigInt(maxRange) - 1n;
  return { from, end: end < to ? end : to };
}
