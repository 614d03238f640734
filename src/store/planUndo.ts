import type { Bytes, Write } from './EngineStore.ts';

/** What an undo does: the writes that restore keys, and the keys it leaves alone. */
export interface UndoPlan {
  /** The block's keys no other source wrote since, back to their values from before the block. */
  restores: Write[];
  /** The block's keys another source wrote since: they keep that later value. */
  kept: Bytes[];
}

/**
 * Plans the undo of one block from its record (`undo`: each key it wrote, with its value before) and
 * `writtenSince`: whether a source other than the block's chain (a custom event, a timer, a cron tick,
 * a job, another chain) wrote the key after the block did (see ReorgMarks). Such a key keeps its later
 * value, whatever it is (the very bytes the block wrote included); every other key is restored. The
 * block's own chain is one source: its later blocks are undone first, and what the module writes while
 * handling the removed logs of an undo step is undone with the older blocks like any of their writes.
 */
export function planUndo(undo: readonly Write[], writtenSince: (key: Bytes) => boolean): UndoPlan {
  const restores: Write[] = [];
  const kept: Bytes[] = [];
  for (const write of undo) {
    if (writtenSince(write.key)) kept.push(write.key);
    else restores.push(write);
  }
  return { restores, kept };
}

/** True when two plans of one record keep the same keys (so they restore the same keys too). */
export function sameKept(a: UndoPlan, b: UndoPlan): boolean {
  return a.kept.length === b.kept.length && a.kept.every((key, i) => Buffer.compare(key, b.kept[i]!) === 0);
}

/** True when two plans keep the same keys and restore the same keys to the same values. */
export function samePlan(a: UndoPlan | undefined, b: UndoPlan | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const same = (x: Write, y: Write) => Buffer.compare(x.key, y.key) === 0 && (x.value === null || y.value === null ? x.value === y.value : Buffer.compare(x.value, y.value) === 0);
  return sameKept(a, b) && a.restores.length === b.restores.length && a.restores.every((write, i) => same(write, b.restores[i]!));
}
