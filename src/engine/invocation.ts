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
import { logGuestOutput, loggingHost } from '../host/logging.ts';
import { storeHost } from '../host/store.ts';
import { timersHost } from '../host/timers.ts';
import type { HostCaps } from '../limits/hostCaps.ts';
import type { CallOptions, CallOutcome } from '../runtime/Component.ts';
import type { HostImports } from '../runtime/HostImports.ts';
import { HostLimitExceeded } from '../signals/HostLimitExceeded.ts';
import { signalFromData, strongestSignal } from '../signals/signalFromData.ts';
import type { Commit, Write } from '../store/EngineStore.ts';
import type { GuardedModuleStore } from '../store/GuardedModuleStore.ts';
import type { StateTransaction } from '../store/StateTransaction.ts';
import { planUndo, sameKept } from '../store/planUndo.ts';
import { queueHost } from '../host/queue.ts';
import { userType, type Job } from '../jobs/Job.ts';
import type { JobAttempt } from '../jobs/JobRunner.ts';
import type { RateLimiter } from '../jobs/RateLimiter.ts';
import type { InterfaceName, ResolvedManifest } from './ModuleManifest.ts';
import { countOf, removeTimerWrites, type Timer } from '../jobs/timerWrites.ts';
import { cronKey, TIMER_COUNT_KEY, timerKey } from '../store/reservedKeys.ts';

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
  store: GuardedModuleStore;
  caps: HostCaps;
  logger: Logger;
  /** sha256 of the component file: the version its tasks carry. */
  version: string;
  /** Time for the queue (enqueue times, delays, windows). */
  now: () => number;
  /** Its enqueue rate limiter, shared by its events and jobs. */
  rate: RateLimiter;
  /** Told of each enqueue the rate limiter refused. */
  rateLimited: () => void;
  /** Whether another source wrote `key` after the module's handling of block `number` of `chainId` did (see ReorgMarks). */
  writtenSince: (chainId: bigint, number: bigint, key: Uint8Array) => boolean;
}

/** The host imports of one invocation (an event's or a job's), bound to its scope. */
function bindImports(module: InvocationModule, scope: InvocationScope, chains: ReadonlyMap<bigint, ChainClient>, orderbooks: ReadonlyMap<bigint, string>, enqueuedBy: Job['enqueuedBy']): HostImports {
  const imports: HostImports = {};
  const { store, logging, chain, http, cowApi, timers, queue } = module.specifiers;
  const { grants, jobs } = module.manifest;
  if (store) imports[store] = storeHost(scope);
  if (logging) imports[logging] = loggingHost(scope);
  if (chain) imports[chain] = chainHost(scope, chains, grants.chain?.chains ?? []);
  if (http) imports[http] = httpHost(scope, grants.http?.hosts ?? []);
  if (cowApi) imports[cowApi] = cowApiHost(scope, orderbooks, grants.cowApi?.chains ?? []);
  if (timers) imports[timers] = timersHost(scope, triggerChains(module.manifest.triggers));
  if (queue) {
    const { version, now, rate, rateLimited } = module;
    imports[queue] = queueHost(scope, { granted: grants.queue === true, version, now, rate, rateLimited, retry: jobs.retry, maxRetry: jobs.maxRetry, enqueuedBy });
  }
  return imports;
}

/** A `HostLimitExceeded` for a cap that tripped during the call, stronger of it and the call's own signal. */
function withCap(scope: InvocationScope, module: string, exportName: string, invocationId: string, outcome: CallOutcome): CallOutcome {
  const tripped = scope.limitError;
  if (!tripped) return outcome;
  // A cap tripped but the guest carried on (it caught the host's exception): the cap is a signal
  // of this invocation too, whatever the guest did next; the stronger of the two ends it.
  const { limit, max, observed } = tripped;
  const capped = new HostLimitExceeded({ component: module, exportName, invocationId, limit, max, observed });
  const signal = outcome.ok ? capped : signalFromData(strongestSignal([outcome.signal.toData(), capped.toData()]));
  return { ok: false, signal, durationMs: outcome.durationMs, invocationId: outcome.ok ? invocationId : outcome.invocationId };
}

/**
 * One run of a task: `run-job(task-type, payload)` with the module's host imports bound to the job's
 * own transaction (committed by the runner, not here). `invoke` calls the job component.
 */
export async function runJob(
  module: InvocationModule,
  job: Job,
  transaction: StateTransaction,
  invoke: (args: unknown[], options: CallOptions) => Promise<CallOutcome>,
  chains: ReadonlyMap<bigint, ChainClient>,
  orderbooks: ReadonlyMap<bigint, string>,
): Promise<JobAttempt> {
  const invocationId = randomUUID();
  const scope = new InvocationScope(module.manifest.name, module.store, transaction, module.caps, () => module.logger.child({ job: job.id, type: userType(job), invocationId }));
  const imports = bindImports(module, scope, chains, orderbooks, { job: job.id });
  const called = await invoke([userType(job), job.payload], { imports, invocationId });
  logGuestOutput(scope, called.output);
  const outcome = withCap(scope, module.manifest.name, 'run-job', invocationId, called);
  if (!outcome.ok) return { ok: false, error: outcome.signal.message, signal: outcome.signal.name };
  const value = outcome.value as { tag?: string; val?: unknown } | undefined;
  if (value?.tag === 'err') return { ok: false, error: String(value.val) };
  return { ok: true, durationMs: outcome.durationMs, fuelUsed: outcome.fuelUsed, ...(outcome.startedAt === undefined ? {} : { startedAt: outcome.startedAt }) };
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
  const transaction = module.store.eventTransaction();
  const chain = envelope.kind === 'chain' ? envelope : undefined;
  const custom = envelope.kind === 'custom' ? envelope : undefined;
  const timer = envelope.kind === 'timer' ? envelope.timer : undefined;
  const events = envelope.kind === 'chain' ? envelope.delivery.events : [envelope.event];
  const scale = Math.max(1, events.length);
  const caps = scale === 1 ? module.caps : (Object.fromEntries(Object.entries(module.caps).map(([k, v]) => [k, k === 'storedBytes' ? v : v * scale])) as HostCaps);
  const logger = () => module.logger.child({ event: envelope.kind, invocationId, ...(timer ? { timer: timer.tag } : {}), ...(chain ? { chainId: String(chain.chainId), block: String(chain.delivery.cursor.number) } : {}) });
  const scope = new InvocationScope(module.manifest.name, module.store, transaction, caps, logger);
  // A timer is consumed by the invocation it wakes: its deletion commits with the handler's writes
  // (the handler may set the same tag again). Only this timer: the tag may have been moved since.
  // A cron tick is recorded as its trigger's last handled tick the same way.
  // Decided when the event's turn comes (`begin`), not when it was queued: a commit in between may
  // have moved or cancelled the timer, and then this event is stale.
  let consumed: { writes: Write[]; sizeDelta: number } | undefined;
  const begin = () => {
    module.store.beginEvent(transaction);
    if (chain?.delivery.undo) return stageUndo(transaction, chain.delivery.undo, (key) => module.writtenSince(chain.chainId, chain.delivery.undo!.entry.number, key));
    if (timer) return (consumed = consume(transaction, timer)) !== undefined;
    if (envelope.kind === 'schedule') consumed = recordTick(transaction, envelope.cron);
    return true;
  };

  const enqueuedBy: Job['enqueuedBy'] = chain ? { event: `chain:${chain.chainId}`, cursor: cursorToJson(chain.delivery.cursor) } : custom ? { event: 'custom', cursor: custom.cursor } : { event: envelope.kind };
  const imports = bindImports(module, scope, chains, orderbooks, enqueuedBy);

  const complete = async (called: CallOutcome): Promise<DeliveryOutcome> => {
    logGuestOutput(scope, called.output);
    const outcome = withCap(scope, module.manifest.name, 'on-event', invocationId, called);
    if (!outcome.ok) return outcome; // a signal: the overlay is dropped
    const values = chain ? (outcome.value as unknown[]) : [outcome.value];
    const rejected = values.findIndex((v) => (v as { tag?: string } | undefined)?.tag === 'err');
    if (rejected >= 0) {
      const error = (values[rejected] as { val?: unknown }).val;
      scope.logger.warn({ error, eventIndex: rejected }, 'on-event returned an error; the event is dropped with its state writes');
      if (chain) return { ok: false, error: new RejectedEvents([rejected]) };
      // A timer answered with `err` is still consumed (like a custom event, it is not offered again).
      if (consumed) await commitWrites(module, { writes: consumed.writes, sizeDelta: consumed.sizeDelta });
      return outcome;
    }
    const commit: Commit = {
      writes: transaction.writes(),
      sizeDelta: transaction.sizeDelta,
      ...(chain ? { cursor: { source: `chain:${chain.chainId}`, value: cursorToJson(chain.delivery.cursor) } } : custom ? { cursor: { source: 'custom', value: custom.cursor } } : {}),
      ...(chain?.delivery.journal ? { journal: { chainId: chain.chainId, ...chain.delivery.journal } } : {}),
    };
    const undo = chain?.delivery.undo;
    if (undo) {
      // The undo's plan once more, in the commit's own turn: a job's bookkeeping (a task failed and
      // rescheduled) may have written one of the block's keys since the step began, and must stand.
      const still = () => undoPlanHolds(undo, (key) => module.writtenSince(chain!.chainId, undo.entry.number, key));
      if (!(await module.store.commitIf(commit, still))) return { ok: false, refused: 'stale' };
      return outcome;
    }
    await commitWrites(module, commit);
    return outcome;
  };
  const end = () => module.store.endEvent(transaction);
  return { options: { imports, invocationId }, complete, begin, end, ...(chain ? { each: 'err' as const } : {}) };
}

function commitWrites(module: InvocationModule, commit: Commit): Promise<void> {
  return module.store.commit(commit);
}

/**
 * Stages the undo of a reorged block when the step's turn comes, after every earlier commit (see
 * planUndo): the feed planned it before queueing the step, and named the kept keys in its events; if a
 * commit since then wrote one of the block's keys, the step is stale (the feed plans again). Restoring
 * reads each key: a job that writes one before the step commits is refused and re-run.
 */
function stageUndo(transaction: StateTransaction, undo: NonNullable<FeedDelivery['undo']>, writtenSince: (key: Uint8Array) => boolean): boolean {
  if (!undoPlanHolds(undo, writtenSince)) return false;
  const plan = undo.plan!;
  for (const write of plan.restores) {
    if (write.value === null) transaction.delete(write.key);
    else transaction.set(write.key, write.value);
  }
  return true;
}

/** Whether the feed's plan of an undo (which keys it keeps) is still what the marks say now. */
function undoPlanHolds(undo: NonNullable<FeedDelivery['undo']>, writtenSince: (key: Uint8Array) => boolean): boolean {
  return undo.plan !== undefined && sameKept(planUndo(undo.entry.undo, writtenSince), undo.plan);
}

/** Stages a cron trigger's last handled tick; the write, for a commit of its own. */
function recordTick(transaction: StateTransaction, cron: { name: string; tick: number }): { writes: Write[]; sizeDelta: number } {
  const key = cronKey(cron.name);
  const value = Buffer.from(String(cron.tick), 'utf8');
  const previous = transaction.get(key);
  transaction.set(key, value);
  return { writes: [{ key, value }], sizeDelta: value.byteLength - (previous ? previous.byteLength : -key.byteLength) };
}

/** Stages the deletion of `timer` if it is still the stored one; what those writes are, for a commit of their own. */
function consume(transaction: StateTransaction, timer: Timer): { writes: Write[]; sizeDelta: number } | undefined {
  const stored = transaction.get(timerKey(timer.tag));
  if (!stored || Buffer.from(stored).toString('utf8') !== timer.raw) return undefined;
  const before = transaction.sizeDelta;
  const writes = removeTimerWrites(timer.tag, stored, countOf(transaction.get(TIMER_COUNT_KEY)));
  for (const { key, value } of writes) {
    if (value === null) transaction.delete(key);
    else transaction.set(key, value);
  }
  return { writes, sizeDelta: transaction.sizeDelta - before };
}

