import type { BlockCursor } from '../chain/types.ts';

/** A chain cursor as the store keeps it (JSON: the number as a decimal string). */
export interface CursorJson {
  number: string;
  hash: string;
  origin?: true;
}

export function cursorToJson(cursor: BlockCursor): CursorJson {
  return { number: String(cursor.number), hash: cursor.hash, ...(cursor.origin ? { origin: true as const } : {}) };
}

export function cursorFromJson(json: CursorJson): BlockCursor {
  return { number: BigInt(json.number), hash: json.hash, ...(json.origin ? { origin: true } : {}) };
}
