import { DEFAULT_MESSAGES } from '../limits/defaults.ts';
import type { Bytes, ModuleReadView, ModuleStore } from '../store/EngineStore.ts';
import { commitStaged } from '../store/GuardedModuleStore.ts';
import { DEAD_MSG_PREFIX, prefixLimit } from '../store/reservedKeys.ts';

/**
 * A message the receiver's steps failed on past their retries (DEFAULT_MESSAGES.retry), kept in the
 * receiver's reserved keys (`dead-msg/<from>/<seq>`) with what is needed to tell what failed and to
 * send it again by hand: the payload as sent, its correlation id, the runs and the last signal.
 */
export interface DeadMessage {
  from: string;
  seq: number;
  /** The payload as sent, or its first `DEFAULT_MESSAGES.deadPayloadBytes` (as JSON text) when longer. */
  payload: string;
  /** A cut payload's whole length (UTF-8 bytes) and sha256 (hex): only when `payload` was cut. */
  payloadBytes?: number;
  payloadSha256?: string;
  correlationId?: string;
  /** A retraction (a reorg undid the sender's step that sent message `retracts`), not the message itself. */
  removed: boolean;
  /** For a retraction: the seq of the message it takes back (`seq` is the retraction's own place in the outbox). */
  retracts?: number;
  /** A reorg undid the step that sent it, after it was dead-lettered: its retraction was passed, not run. */
  retracted?: boolean;
  /** Runs of its step that ended in a signal, the last included. */
  attempts: number;
  /** The last signal's name and message. */
  lastError: { signal: string; message: string };
  /** When it was dead-lettered (epoch ms). */
  deadAt: number;
}

/**
 * `text` cut at a character boundary so that its JSON text takes at most `maxBytes` (UTF-8): a payload
 * of control characters grows six-fold as JSON, so the record's bound is on what is stored.
 */
export function cutForJson(text: string, maxBytes: number): string {
  const size = (s: string) => Buffer.byteLength(JSON.stringify(s), 'utf8');
  if (size(text) <= maxBytes) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (size(text.slice(0, mid)) <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  // Not half a surrogate pair.
  const code = text.charCodeAt(lo - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? lo - 1 : lo);
}

/**
 * How many dead letters a receiver keeps: a tenth of its `storedBytes` in records of at most
 * `deadRecordBytes`, at least one, at most `maxCount` (DEFAULT_MESSAGES).
 */
export function deadMessagesKept(storedBytes: number, maxCount: number): number {
  return Math.max(1, Math.min(maxCount, Math.floor(storedBytes / 10 / DEFAULT_MESSAGES.deadRecordBytes)));
}

export const encodeDeadMessage = (dead: DeadMessage): Bytes => Buffer.from(JSON.stringify(dead), 'utf8');

/** The dead letter a value holds, or undefined for one corral cannot read (only corral writes them). */
export function decodeDeadMessage(value: Bytes): DeadMessage | undefined {
  try {
    const dead = JSON.parse(Buffer.from(value).toString('utf8')) as DeadMessage;
    return typeof dead.from === 'string' && typeof dead.seq === 'number' && typeof dead.payload === 'string' ? dead : undefined;
  } catch {
    return undefined;
  }
}

/** What listing needs: a store, or a read view of committed state. */
type Reader = Pick<ModuleReadView, 'keys' | 'get'>;

/** A module's dead-lettered messages with their keys, by sender then sequence number. */
async function list(store: Reader): Promise<{ key: Bytes; dead: DeadMessage | undefined }[]> {
  const out: { key: Bytes; dead: DeadMessage | undefined }[] = [];
  for await (const key of store.keys({ gte: DEAD_MSG_PREFIX, lt: prefixLimit(DEAD_MSG_PREFIX), limit: -1 })) {
    const value = await store.get(key);
    out.push({ key: Uint8Array.from(key), dead: value && decodeDeadMessage(value) });
  }
  return out;
}

/** A module's dead-lettered messages, by sender then sequence number. */
export async function deadMessages(store: Reader): Promise<DeadMessage[]> {
  return (await list(store)).flatMap(({ dead }) => (dead ? [dead] : []));
}

/**
 * Deletes a module's dead-lettered messages (only those dead before `before`, when given), a thousand
 * per commit; how many went. Their bytes go back to its `storedBytes`. The cursor stays where it is:
 * a purged message is not delivered again.
 */
export async function purgeDeadMessages(store: ModuleStore, before?: number): Promise<number> {
  const victims = (await list(store)).filter(({ dead }) => before === undefined || (dead?.deadAt ?? 0) < before).map(({ key }) => key);
  let deleted = 0;
  for (let from = 0; from < victims.length; from += 1_000) {
    await commitStaged(store, (tx) => {
      for (const key of victims.slice(from, from + 1_000)) {
        if (tx.get(key) === undefined) continue;
        tx.delete(key);
        deleted++;
      }
      return true;
    });
  }
  return deleted;
}

/**
 * Keeps a module's newest `maxCount` dead-lettered messages (by `deadAt`; the oldest go, their bytes
 * back to its `storedBytes`), as tasks' dead letters are kept (DEFAULT_DEAD_LETTERS): a receiver failing
 * on every message of a chatty sender would otherwise fill its quota with them. How many went.
 */
export async function pruneDeadMessages(store: ModuleStore, maxCount: number): Promise<number> {
  const all = await list(store);
  if (all.length <= maxCount) return 0;
  const oldest = [...all].sort((a, b) => (a.dead?.deadAt ?? 0) - (b.dead?.deadAt ?? 0)).slice(0, all.length - maxCount);
  let deleted = 0;
  await commitStaged(store, (tx) => {
    for (const { key } of oldest) {
      if (tx.get(key) === undefined) continue;
      tx.delete(key);
      deleted++;
    }
    return true;
  });
  return deleted;
}
