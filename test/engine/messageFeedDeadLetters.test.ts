/**
 * The message feed's dead letters at the edge of reorgs, on the real MessageFeed and MessageHub. The
 * receiver's store and its actor are stand-ins here (a map of committed keys, and a sink that answers
 * each step as the test's guest would): a real engine cannot be made to retract a message that was
 * dead-lettered on cue, and the rules under test are the feed's own.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { DeliveryOutcome } from '../../src/actor/Actor.ts';
import { MessageFeed, type MessageSources } from '../../src/engine/MessageFeed.ts';
import { MessageHub } from '../../src/engine/MessageHub.ts';
import { decodeDeadMessage } from '../../src/engine/messageDeadLetters.ts';
import { encodeOutboxEntry } from '../../src/host/messages.ts';
import type { Commit } from '../../src/store/EngineStore.ts';
import { deadMessageKey, outboxKey } from '../../src/store/reservedKeys.ts';

const id = (key: Uint8Array) => Buffer.from(key).toString('hex');
const ok: DeliveryOutcome = { ok: true, value: [], fuelUsed: 0, durationMs: 0, invocationId: 'x' };
const trap = { ok: false, signal: { name: 'Trap', message: 'poison' }, durationMs: 0, invocationId: 'x' } as unknown as DeliveryOutcome;

/** Sender `s`'s outbox to `r`: message 1, then (a reorg undid the step that sent it) its retraction at seq 2, then message 3. */
const poisonThenRetracted = (): [Uint8Array, Uint8Array][] => [
  [outboxKey('r', 1n), encodeOutboxEntry({ p: 'poison' })],
  [outboxKey('r', 2n), encodeOutboxEntry({ p: 'poison', r: 1 })],
  [outboxKey('r', 3n), encodeOutboxEntry({ p: 'fine' })],
];

/**
 * A receiver of `entries` whose guest answers each message in turn as `answer` says (a step out of turn
 * is refused as stale); `committed` hears each commit the feed makes of its own (dead letters, passes).
 */
function receiver(entries: [Uint8Array, Uint8Array][], answer: (seq: number) => 'ok' | 'trap', committed: (commit: Commit) => void = () => {}) {
  const state = new Map<string, Uint8Array>();
  const sources = {
    receiver: {
      cursor: async () => undefined,
      getSync: (key: Uint8Array) => state.get(id(key)),
      commitIf: async (commit: Commit, stillValid: () => boolean) => {
        if (!stillValid()) return false;
        for (const w of commit.writes) if (w.value) state.set(id(w.key), w.value);
        committed(commit);
        return true;
      },
      keys: async function* () {},
      get: async (key: Uint8Array) => state.get(id(key)),
    },
    entries: async (_sender: string, range: { gt: Uint8Array }) => entries.filter(([k]) => Buffer.compare(Buffer.from(k), Buffer.from(range.gt)) > 0),
    whenServing: async () => {},
    now: () => 0,
  } as unknown as MessageSources;
  const ran: { seq: number; removed: boolean }[] = [];
  const sink = (delivery: Parameters<ConstructorParameters<typeof MessageFeed>[4]>[0]) => {
    if (delivery.lane.expected() !== BigInt(delivery.seq)) return { queued: Promise.resolve(), outcome: Promise.resolve({ ok: false, refused: 'stale' } as DeliveryOutcome) };
    ran.push({ seq: delivery.seq, removed: (delivery.event.val as { removed: boolean }).removed });
    if (answer(delivery.seq) === 'trap') return { queued: Promise.resolve(), outcome: Promise.resolve(trap) };
    delivery.lane.handled(BigInt(delivery.seq));
    return { queued: Promise.resolve(), outcome: Promise.resolve(ok) };
  };
  const feed = new MessageFeed('r', ['s'], sources, new MessageHub(), sink, pino({ level: 'silent' }));
  return { feed, ran, state };
}

describe('message dead letters and reorgs', () => {
  it("behavior: the retraction of a dead-lettered message is passed, not run (the guest never applied the original); the dead letter is marked retracted; the next message runs", async () => {
    let reached!: () => void;
    const done = new Promise<void>((resolve) => (reached = resolve));
    const { feed, ran, state } = receiver(poisonThenRetracted(), (seq) => {
      if (seq === 3) reached();
      return seq === 1 ? 'trap' : 'ok';
    });
    await feed.start();
    await done;
    await feed.stop();
    // Message 1: three runs (DEFAULT_MESSAGES.retry = 2), then dead; its retraction never reaches the guest; 3 runs.
    expect(ran).toEqual([
      { seq: 1, removed: false },
      { seq: 1, removed: false },
      { seq: 1, removed: false },
      { seq: 3, removed: false },
    ]);
    const dead = decodeDeadMessage(state.get(id(deadMessageKey('s', 1)))!)!;
    expect(dead).toMatchObject({ from: 's', seq: 1, payload: 'poison', removed: false, retracted: true, attempts: 3 });
  });

  it("behavior: a dead-lettered retraction names the message it takes back (`retracts`) beside its own outbox seq", async () => {
    let written!: () => void;
    const dead = new Promise<void>((resolve) => (written = resolve));
    // Message 1 is handled; its retraction traps every time.
    const entries: [Uint8Array, Uint8Array][] = [
      [outboxKey('r', 1n), encodeOutboxEntry({ p: 'hello' })],
      [outboxKey('r', 2n), encodeOutboxEntry({ p: 'hello', r: 1 })],
    ];
    const { feed, state } = receiver(entries, (seq) => (seq === 1 ? 'ok' : 'trap'), (commit) => commit.writes.length > 0 && written());
    await feed.start();
    await dead;
    await feed.stop();
    expect(decodeDeadMessage(state.get(id(deadMessageKey('s', 2)))!)).toMatchObject({ seq: 2, removed: true, retracts: 1, payload: 'hello' });
  });
});
