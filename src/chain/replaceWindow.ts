import type { Join } from './joinWindow.ts';
import type { ChainBlock } from './types.ts';

/**
 * The held window once `added` joined it as `join` says, trimmed to its newest `windowBlocks`, and the
 * blocks the change abandoned (oldest first; none after a gap: nothing is known to be replaced).
 */
export function replaceWindow(
  window: readonly ChainBlock[],
  added: readonly ChainBlock[],
  join: Exclude<Join, { kind: 'parent' }>,
  windowBlocks: number,
): { window: ChainBlock[]; abandoned: ChainBlock[] } {
  const keep = join.kind === 'joins' ? join.keep : 0;
  const abandoned = join.kind === 'replace' && join.reason === 'gap' ? [] : window.slice(keep);
  const next = [...window.slice(0, keep), ...added];
  return { window: next.slice(Math.max(0, next.length - windowBlocks)), abandoned };
}
