import { createHash } from 'node:crypto';
import type { FeedDelivery } from '../bus/FeedDelivery.ts';
import type { GuestEvent } from '../bus/guestEvents.ts';
import type { Timer } from '../jobs/timerWrites.ts';

/**
 * The idempotency key of each kind of step and of a job (`corral:module/invocation`, whose WIT doc
 * states the guarantee): `<module>/<source>/<id>`, made only of what every run of the step or job
 * sees alike — never the invocation id, the time of the run, the replica or its epoch. A run on the
 * module's next owner must get the same key as the run it repeats: that is the repeat a target has to
 * drop. Free-form parts (a timer's tag, a cron trigger's name) are percent-encoded, so a `/` of
 * theirs cannot make one step's key equal to another's.
 */

const part = (text: string) => encodeURIComponent(text);

/**
 * A chain step: the block it commits the cursor at. Near the head a step is one block, so its number
 * and hash name it exactly; a different branch's block at the same height has another hash. An undo
 * step commits the cursor of the block before the undone one (where the step ending there already
 * took that key), so it is named by the block it undoes, marked `undo`.
 */
export function chainStepKey(module: string, chainId: bigint, delivery: Pick<FeedDelivery, 'cursor' | 'undo'>): string {
  const { undo } = delivery;
  if (undo) return `${module}/chain:${chainId}/${undo.entry.number}/${undo.entry.hash}/undo`;
  return `${module}/chain:${chainId}/${delivery.cursor.number}/${delivery.cursor.hash}`;
}

/**
 * A custom event: its sequence number and a digest of topic and payload. The number alone is not
 * enough on LevelDB: an engine that died after an effect but before the event's commit starts again
 * numbering after the highest sequence any module committed, so the lost event's number goes to the
 * next event published — a different event, which the digest tells apart. A cursor without `seq` (an
 * embedder's `deliver`) is written as its JSON.
 */
export function customKey(module: string, event: GuestEvent, cursor: unknown): string {
  const seq = (cursor as { seq?: unknown } | null | undefined)?.seq;
  const position = typeof seq === 'number' || typeof seq === 'bigint' || typeof seq === 'string' ? String(seq) : (JSON.stringify(cursor, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) ?? '-');
  const { topic, payload } = event.tag === 'custom' ? event.val : { topic: '', payload: '' };
  const digest = createHash('sha256').update(topic).update('\0').update(payload).digest('hex').slice(0, 16);
  return `${module}/custom/${part(position)}/${digest}`;
}

/** A timer that fell due: its tag and when it was due (ms, or the block of a chain). */
export function timerIdempotencyKey(module: string, timer: Pick<Timer, 'tag' | 'spec'>): string {
  const due = 'at' in timer.spec ? String(timer.spec.at) : `chain:${timer.spec.chain}:${timer.spec.block}`;
  return `${module}/timer/${part(timer.tag)}/${due}`;
}

/** A cron tick: its trigger's name and the time it was due. */
export function scheduleKey(module: string, cron: { name: string; tick: number }): string {
  return `${module}/schedule/${part(cron.name)}/${cron.tick}`;
}

/** A message of another module: its sender and its place in the sender's outbox to this module. */
export function messageKey(module: string, from: string, seq: number): string {
  return `${module}/msg:${from}/${seq}`;
}

/** A job: its id, which its retries (and a dead letter's retry by hand) keep. */
export function jobIdempotencyKey(module: string, jobId: string): string {
  return `${module}/job/${jobId}`;
}
