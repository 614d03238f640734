import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { DeliveryExtras, DeliveryOutcome } from '../actor/Actor.ts';
import { cursorToJson } from '../bus/cursorJson.ts';
import { triggerChains } from '../bus/triggers.ts';
import type { FeedDelivery } from '../bus/ModuleFeed.ts';
import type { GuestEvent } from '../bus/guestEvents.ts';
import type { ChainClient } from '../chain/ChainClient.ts';
import { chainHost } from '../host/chain.ts';
import { cowApiHost } from '../host/cowApi.ts';
import { httpHost } from '../host/http.ts';
import { InvocationScope } from '../host/InvocationScope.ts';
import { loggingHost } from '../host/logging.ts';
import { storeHost } from '../host/store.ts';
import { timersHost } from '../host/timers.ts';
import type { HostCaps } from '../limits/hostCaps.ts';
import type { CallOutcome } from '../runtime/Component.ts';
import type { HostImports } from '../runtime/hostBridge.ts';
import { HostLimitExceeded } from '../signals/HostLimitExceeded.ts';
import { signalFromData, strongestSignal } from '../signals/signalFromData.ts';
import type { Commit, ModuleStore, Write } from '../store/EngineStore.ts';
import { StateTransaction } from '../store/StateTransaction.ts';
import type { InterfaceName, ResolvedManifest } from './ModuleManifest.ts';
import { timerKey, type Timer } from './ModuleTimers.ts';
import { cronKey } from './CronScheduler.ts';

/** What travels through a module's mailbox: one custom event, one step of a chain feed, or one timer that fell due. */
export type Envelope =
  | { kind: 'custom'; event: GuestEvent; cursor: unknown }
  | { kind: 'chain'; chainId: bigint; delivery: FeedDelivery }
  | { kind: 'timer'; event: GuestEvent; timer: Timer }
  | { kind: 'schedule'; event: GuestEvent; cron: { name: string; tick: number } };

/** Events of a chain step the module answered with `err`: they are re-run without (see below). */
export class RejectedEvents extends Error {
  constructor(readonly indices: number[]) {
    super('on-event returned err');
  }
}

/** A module as the invocation step needs it. */
export interface InvocationModule {
  manifest: ResolvedManifest;
  /** The component's import specifiers, by the corral interface they name. */
  specifiers: Partial<Record<InterfaceName, string>>;
  store: ModuleStore;
  caps: HostCaps;
  logger: Logger;
  /** Told the writes of every commit (the engine's timer index follows them). */
  committed?: (writes: readonly Write[]) => void;
}

/**
 * The invocation step: binds the host imports of one delivery to a fresh overlay of the module's
 * state, and after the guest ran, commits the overlay with the cursor (and journal changes) in one
 * batch — or drops it. A chain step hands the guest all its events in one invocation (one worker
 * round trip, one commit); the per-invocation caps are multiplied by the number of events, fuel and
 * the deadline apply to each event. An event answered with `err` is dropped with its writes: the
 * step is run again without it, so the other events' writes stand and its own are gone.
 */
export function bindInvocation(module: InvocationModule, envelope: Envelope, chains: ReadonlyMap<bigint, ChainClient>, orderbooks: ReadonlyMap<bigint, string>): DeliveryExtras {
  const invocationId = randomUUID();
  const transaction = new StateTransaction(module.store);
  const chain = envelope.kind === 'chain' ? envelope : undefined;
  const custom = envelope.kind === 'custom' ? envelope : undefined;
  const timer = envelope.kind === 'timer' ? envelope.timer : undefined;
  const events = envelope.kind === 'chain' ? envelope.delivery.events : [envelope.event];
  const scale = Math.max(1, events.length);
  const caps = scale === 1 ? module.caps : (Object.fromEntries(Object.entries(module.caps).map(([k, v]) => [k, k === 'storedBytes' ? v : v * scale])) as HostCaps);
  const logger = module.logger.child({ event: envelope.kind, invocationId, ...(timer ? { timer: timer.tag } : {}), ...(chain ? { chainId: String(chain.chainId), block: String(chain.delivery.cursor.number) } : {}) });
  const scope = new InvocationScope(module.manifest.name, module.store, transaction, caps, logger);
  for (const write of chain?.delivery.prestage ?? []) {
    if (write.value === null) transaction.delete(write.key);
    else transaction.set(write.key, write.value);
  }
  // A timer is consumed by the invocation it wakes: its deletion commits with the handler's writes
  // (the handler may set the same tag again). Only this timer: the tag may have been moved since.
  // A cron tick is recorded as its trigger's last handled tick the same way.
  // Decided when the event's turn comes (`begin`), not when it was queued: a commit in between may
  // have moved or cancelled the timer, and then this event is stale.
  let consumed: { write: Write; sizeDelta: number } | undefined;
  const begin = timer
    ? () => (consumed = consume(transaction, timer)) !== undefined
    : envelope.kind === 'schedule'
      ? () => ((consumed = recordTick(transaction, envelope.cron)), true)
      : undefined;

  const imports: HostImports = {};
  const { store, logging, chain: chainSpecifier, http, cowApi, timers: timersSpecifier } = module.specifiers;
  const { grants } = module.manifest;
  if (store) imports[store] = storeHost(scope);
  if (logging) imports[logging] = loggingHost(scope);
  if (chainSpecifier) imports[chainSpecifier] = chainHost(scope, chains, grants.chain?.chains ?? []);
  if (http) imports[http] = httpHost(scope, grants.http?.hosts ?? []);
  if (cowApi) imports[cowApi] = cowApiHost(scope, orderbooks, grants.cowApi?.chains ?? []);
  if (timersSpecifier) imports[timersSpecifier] = timersHost(scope, triggerChains(module.manifest.triggers));

  const complete = async (outcome: CallOutcome): Promise<DeliveryOutcome> => {
    const tripped = scope.limitError;
    if (tripped) {
      // A cap tripped but the guest carried on (it caught the host's exception): the cap is a signal
      // of this invocation too, whatever the guest did next; the stronger of the two ends it.
      const { limit, max, observed } = tripped;
      const capped = new HostLimitExceeded({ component: module.manifest.name, exportName: 'on-event', invocationId, limit, max, observed });
      const signal = outcome.ok ? capped : signalFromData(strongestSignal([outcome.signal.toData(), capped.toData()]));
      return { ok: false, signal, durationMs: outcome.durationMs, invocationId: outcome.ok ? invocationId : outcome.invocationId };
    }
    if (!outcome.ok) return outcome; // a signal: the overlay is dropped
    const values = chain ? (outcome.value as unknown[]) : [outcome.value];
    const rejected = values.findIndex((v) => (v as { tag?: string } | undefined)?.tag === 'err');
    if (rejected >= 0) {
      const error = (values[rejected] as { val?: unknown }).val;
      logger.warn({ error, eventIndex: rejected }, 'on-event returned an error; the event is dropped with its state writes');
      if (chain) return { ok: false, error: new RejectedEvents([rejected]) };
      // A timer answered with `err` is still consumed (like a custom event, it is not offered again).
      if (consumed) await commitWrites(module, { writes: [consumed.write], sizeDelta: consumed.sizeDelta });
      return outcome;
    }
    const commit: Commit = {
      writes: transaction.writes(),
      sizeDelta: transaction.sizeDelta,
      ...(chain ? { cursor: { source: `chain:${chain.chainId}`, value: cursorToJson(chain.delivery.cursor) } } : custom ? { cursor: { source: 'custom', value: custom.cursor } } : {}),
      ...(chain?.delivery.journal ? { journal: { chainId: chain.chainId, ...chain.delivery.journal } } : {}),
    };
    await commitWrites(module, commit);
    return outcome;
  };
  return { options: { imports, invocationId }, complete, ...(chain ? { each: 'err' as const } : {}), ...(begin ? { begin } : {}) };
}

async function commitWrites(module: InvocationModule, commit: Commit): Promise<void> {
  await module.store.commit(commit);
  module.committed?.(commit.writes);
}

/** Stages a cron trigger's last handled tick; the write, for a commit of its own. */
function recordTick(transaction: StateTransaction, cron: { name: string; tick: number }): { write: Write; sizeDelta: number } {
  const key = cronKey(cron.name);
  const value = Buffer.from(String(cron.tick), 'utf8');
  const previous = transaction.get(key);
  transaction.set(key, value);
  return { write: { key, value }, sizeDelta: value.byteLength - (previous ? previous.byteLength : -key.byteLength) };
}

/** Stages the deletion of `timer` if it is still the stored one; what that write is, for a commit of its own. */
function consume(transaction: StateTransaction, timer: Timer): { write: Write; sizeDelta: number } | undefined {
  const key = timerKey(timer.tag);
  const stored = transaction.get(key);
  if (!stored || Buffer.from(stored).toString('utf8') !== timer.raw) return undefined;
  transaction.delete(key);
  return { write: { key, value: null }, sizeDelta: -(key.byteLength + stored.byteLength) };
}

