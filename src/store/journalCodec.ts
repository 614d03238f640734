import type { Bytes, JournalEntry } from './EngineStore.ts';

/**
 * A journal entry as text (JSON with bigints as decimal strings and bytes as hex), the one encoding
 * every backend stores: LevelDB as the value of a journal key, PostgreSQL as `journal.entry`. One
 * codec, so `corral store copy` moves entries between them unchanged.
 */
export function encodeEntry(entry: JournalEntry): string {
  return JSON.stringify({
    number: entry.number.toString(),
    hash: entry.hash,
    prev: { number: entry.prev.number.toString(), hash: entry.prev.hash, ...(entry.prev.origin ? { origin: true } : {}) },
    undo: entry.undo.map((w) => [toHex(w.key), w.value === null ? null : toHex(w.value)]),
    payload: entry.payload,
  });
}

export function decodeEntry(raw: string): JournalEntry {
  const parsed = JSON.parse(raw) as { number: string; hash: string; prev: { number: string; hash: string; origin?: true }; undo: [string, string | null][]; payload: unknown };
  const { prev } = parsed;
  return {
    number: BigInt(parsed.number),
    hash: parsed.hash,
    prev: { number: BigInt(prev.number), hash: prev.hash, ...(prev.origin ? { origin: true } : {}) },
    undo: parsed.undo.map(([key, value]) => ({ key: fromHex(key), value: value === null ? null : fromHex(value) })),
    payload: parsed.payload,
  };
}

const toHex = (bytes: Bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const fromHex = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
