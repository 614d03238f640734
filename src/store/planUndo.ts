import { createHash } from 'node:crypto';
import type { Bytes, Write } from './EngineStore.ts';

/**
 * What a block left in each key it wrote, as its undo record keeps it beside the values from before:
 * `[key as hex, sha256 of the value as hex]`, null for a delete. A digest, not the value: the record
 * only needs to tell whether the key still holds what the block wrote, and a value may be large.
 */
export type WroteDigests = [key: string, digest: string | null][];

/** What an undo does: the writes that restore keys, and the keys it leaves alone. */
export interface UndoPlan {
  /** Each key still as the block left it, back to its value from before the block. */
  restores: Write[];
  /** Keys written again since the block (by anything but the block itself): they keep their later value. */
  kept: Bytes[];
}

const hex = (bytes: Bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const digest = (value: Bytes | null | undefined) => (value == null ? null : createHash('sha256').update(value).digest('hex'));

/** The digests of a block's writes, to keep in its undo record. */
export function wroteDigests(writes: readonly Write[]): WroteDigests {
  return writes.map(({ key, value }) => [hex(key), digest(value)]);
}

/**
 * Plans the undo of one block against the state as it is now (`read`: the committed value of a key).
 * A key whose value is still the one the block wrote is restored; a key whose value differs was
 * written since by another source (a custom event, a timer, a job, another chain: the same chain's
 * later blocks are undone first) and keeps that later value, so no such write is lost. The one write
 * this cannot see is a later write of the very bytes the block wrote: the key looks untouched and is
 * restored. A record without digests (written before they were kept) restores every key, as undo did then.
 */
export function planUndo(undo: readonly Write[], wrote: WroteDigests | undefined, read: (key: Bytes) => Bytes | undefined): UndoPlan {
  if (!wrote) return { restores: [...undo], kept: [] };
  const left = new Map(wrote);
  const restores: Write[] = [];
  const kept: Bytes[] = [];
  for (const write of undo) {
    const id = hex(write.key);
    // A key the record has no digest for (not expected: both come from the same commit) is restored.
    if (!left.has(id) || digest(read(write.key)) === left.get(id)) restores.push(write);
    else kept.push(write.key);
  }
  return { restores, kept };
}

/** True when two plans keep the same keys (so they restore the same keys too). */
export function sameKept(a: UndoPlan, b: UndoPlan): boolean {
  return a.kept.length === b.kept.length && a.kept.every((key, i) => Buffer.compare(key, b.kept[i]!) === 0);
}
