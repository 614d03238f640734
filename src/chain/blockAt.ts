import type { ChainBlock } from './types.ts';

/** The block at height `number` in `window` (contiguous canonical headers, oldest first), if the window holds that height. */
export function blockAt(window: readonly ChainBlock[], number: bigint): ChainBlock | undefined {
  const first = window[0];
  if (!first || number < first.number || number > window[window.length - 1]!.number) return undefined;
  return window[Number(number - first.number)];
}
