import { setTimeout as delay } from 'node:timers/promises';
import type { ModuleManifest } from '../../src/config/ModuleManifestSchema.ts';
import type { Engine } from '../../src/engine/Engine.ts';
import type { GuestEvent } from '../../src/bus/guestEvents.ts';
import { outboxPrefix, parseOutboxKey, prefixLimit } from '../../src/store/reservedKeys.ts';
import { fixture } from '../helpers.ts';

/** A msg-probe module (fixtures/modules/msg-probe): sends on command, records what it receives under `got/<n>`. */
export function msgProbe(name: string, options: { to?: string[]; from?: string[]; inbox?: number; reply?: boolean; spin?: string } & Partial<ModuleManifest> = {}): ModuleManifest {
  const { to, from, inbox, reply, spin, ...rest } = options;
  return {
    name,
    component: fixture('msg-probe'),
    config: JSON.stringify({ reply: reply === true, ...(spin ? { spin } : {}) }),
    grants: { store: true, messages: to ?? [] },
    triggers: from ? [{ kind: 'messages', from, ...(inbox ? { inbox } : {}) }] : [],
    limits: { timeoutMs: 10_000 },
    ...rest,
  } as ModuleManifest;
}

let seq = 0;
/** A command for a msg-probe (see its source), delivered as a custom event; resolves with the step's outcome. */
export function command(engine: Engine, module: string, body: Record<string, unknown>) {
  const event: GuestEvent = { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(body) } };
  return engine.deliver(module, event, { seq: ++seq });
}

export interface Got {
  from: string;
  seq: number;
  payload: string;
  cid: string | null;
  removed: boolean;
}

const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));
const key = (k: string) => new TextEncoder().encode(k);

/** Every message a msg-probe recorded, in the order it handled them. */
export async function got(engine: Engine, module: string): Promise<Got[]> {
  const count = Number(text(await engine.read(module, key('got-count'))) ?? '0');
  const out: Got[] = [];
  for (let n = 0; n < count; n++) out.push(JSON.parse(text(await engine.read(module, key(`got/${String(n).padStart(8, '0')}`)))!) as Got);
  return out;
}

/** What each send of a msg-probe's `send` commands came to: `{ seq }` or `{ fault }`. */
export async function sent(engine: Engine, module: string): Promise<({ seq: number } | { fault: { tag: string; val: string } })[]> {
  return JSON.parse(text(await engine.read(module, key('sent'))) ?? '[]');
}

/**
 * Resolves once `to` has committed its cursor on `from`'s messages at `seq` or past it: polled, since
 * the step runs whenever the receiver's feed reads it (no vitest here: a child process uses it too).
 */
export async function handled(engine: Engine, to: string, from: string, seq: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const cursor = (await engine.cursor(to, `msg:${from}`)) as { seq?: number } | undefined;
    if ((cursor?.seq ?? 0) >= seq) return;
    if (Date.now() > until) throw new Error(`${to} handled ${from}'s messages up to ${cursor?.seq ?? 0}, not ${seq}, within ${timeoutMs} ms`);
    await delay(10);
  }
}

/**
 * Resolves once this engine's hub has seen `module` handle `count` messages since the engine started
 * (its `delivered`): the same call that counts them asks for its senders' outbox trims, so an
 * `engine.messagesTrimmed()` after it waits for those.
 */
export async function delivered(engine: Engine, module: string, count: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((engine.messageStats()[module]?.delivered ?? 0) < count) {
    if (Date.now() > until) throw new Error(`${module} handled ${engine.messageStats()[module]?.delivered ?? 0} messages, not ${count}, within ${timeoutMs} ms`);
    await delay(10);
  }
}

/** The seqs of the entries `sender`'s outbox to `to` holds now (committed). */
export async function outbox(engine: Engine, sender: string, to: string): Promise<number[]> {
  const view = await engine.readView();
  try {
    const state = await view.module(sender);
    const seqs: number[] = [];
    if (state) for await (const [key] of state.entries({ gte: outboxPrefix(to), lt: prefixLimit(outboxPrefix(to)), limit: -1 })) seqs.push(Number(parseOutboxKey(key)!.seq));
    return seqs;
  } finally {
    await view.close();
  }
}
