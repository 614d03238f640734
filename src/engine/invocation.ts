import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { DeliveryExtras, DeliveryOutcome } from '../actor/Actor.ts';
import { cursorToJson } from '../bus/cursorJson.ts';
import type { FeedDelivery } from '../bus/ModuleFeed.ts';
import type { GuestEvent } from '../bus/guestEvents.ts';
import { HostLimitError } from '../errors/HostLimitError.ts';
import { InvocationScope } from '../host/InvocationScope.ts';
import { logGuestOutput } from '../host/logging.ts';
import { withCap } from '../host/withCap.ts';
import { recordTick } from '../jobs/CronScheduler.ts';
import { userType, type Job } from '../jobs/Job.ts';
import type { JobAttempt } from '../jobs/JobModule.ts';
import { consumeTimer, timerRestores, type Bookkeeping, type Timer } from '../jobs/timerWrites.ts';
import type { HostCaps } from '../limits/hostCaps.ts';
import type { CallOptions, CallOutcome } from '../runtime/Component.ts';
import type { HostImports } from '../runtime/HostImports.ts';
import type { Commit } from '../store/EngineStore.ts';
import type { GuardedModuleStore } from '../store/GuardedModuleStore.ts';
import { samePlan, sameKept, type UndoPlan } from '../store/planUndo.ts';
import { chainSource, CUSTOM_SOURCE, messageSource } from '../store/reservedKeys.ts';
import type { StateTransaction } from '../store/StateTransaction.ts';
import { ATTR, SPAN, type Outcome } from '../tracing/attributes.ts';
import { InvocationTrace, parseTraceparent, type Tracing } from '../tracing/Tracing.ts';
import { chainStepKey, customKey, jobIdempotencyKey, messageKey, scheduleKey, timerIdempotencyKey } from './idempotencyKey.ts';
import type { MessageDelivery } from './MessageFeed.ts';
import { retractMessages } from './retractions.ts';

/** What travels through a module's mailbox: one custom event, one step of a chain feed, one timer that fell due, one cron tick, or one message of another module. */
export type Envelope =
  | MessageDelivery
  | { kind: 'custom'; event: GuestEvent; cursor: unknown; traceparent?: string }
  | { kind: 'chain'; chainId: bigint; delivery: FeedDelivery }
  | { kind: 'timer'; event: GuestEvent; timer: Timer }
  | { kind: 'schedule'; event: GuestEvent; cron: { name: string; tick: number } };

/** Events of a chain step the module answered with `err`: they are re-run without (see below). */
export class RejectedEvents extends Error {
  constructor(readonly indices: number[]) {
    super('on-event returned err');
  }
}

/** A loaded module as the invocation step needs it (engine/ModuleRuntime.ts). */
export interface InvocationModule {
  readonly name: string;
  readonly store: GuardedModuleStore;
  readonly caps: HostCaps;
  readonly logger: Logger;
  /** The undo of the module's handling of block `number` of `chainId` as its store has it now, or undefined without a record (see ReorgMarks). */
  undoPlan(chainId: bigint, number: bigint): UndoPlan | undefined;
  /** Its host imports bound to one invocation's scope (src/host/bindHost.ts). */
  hostImports(scope: InvocationScope, enqueuedBy: Job['enqueuedBy']): HostImports;
  /** Where its spans go; undefined when the engine does not trace (then no span API is called). */
  readonly tracing?: Tracing | undefined;
}

/**
 * The invocation step: binds the host imports of one delivery to a fresh overlay of the module's
 * state, and after the guest ran, commits the overlay with the cursor (and journal changes) in one
 * batch — or drops it. A chain step hands the guest all its events in one invocation (one worker
 * round trip, one commit); the per-invocation caps are multiplied by the number of events, fuel and
 * the deadline apply to each event. An event answered with `err` is dropped with its writes: the
 * step is run again without it, so the other events' writes stand and its own are gone.
 */
export function bindInvocation(module: InvocationModule, envelope: Envelope): DeliveryExtras {
  switch (envelope.kind) {
    case 'chain':
      return bindChainStep(module, envelope);
    case 'custom':
      return bindEvent(module, envelope, () => customKey(module.name, envelope.event, envelope.cursor), { event: CUSTOM_SOURCE, cursor: envelope.cursor }, { source: CUSTOM_SOURCE, value: envelope.cursor }, () => null);
    case 'timer':
      // Decided when the event's turn comes, not when it was queued: a commit in between may have
      // moved or cancelled the timer, and then this event is stale.
      return bindEvent(module, envelope, () => timerIdempotencyKey(module.name, envelope.timer), { event: 'timer' }, undefined, (transaction) => consumeTimer(transaction, envelope.timer) ?? 'stale', { timer: envelope.timer.tag });
    case 'schedule':
      return bindEvent(module, envelope, () => scheduleKey(module.name, envelope.cron), { event: 'schedule' }, undefined, (transaction) => recordTick(transaction, envelope.cron));
    case 'message':
      return bindMessage(module, envelope);
    default:
      return unknownEnvelope(envelope);
  }
}

function unknownEnvelope(envelope: never): never {
  throw new Error(`unknown envelope kind ${String((envelope as { kind?: unknown }).kind)}`);
}

/**
 * A message of another module: its step runs only in its turn, one past the receiver's committed
 * cursor on the sender (a repeat or one queued after a failure is refused as stale, and the feed reads
 * again), and commits that cursor with the handler's writes, or alone when the handler answers `err`
 * (the message is handled: it is not offered again).
 */
function bindMessage(module: InvocationModule, envelope: MessageDelivery): DeliveryExtras {
  const source = messageSource(envelope.from);
  const seq = BigInt(envelope.seq);
  const cursor = { source, value: { seq: envelope.seq } };
  const stage = () => (envelope.lane.expected() === seq ? { writes: [], sizeDelta: 0, cursor } : 'stale');
  const committed = () => envelope.lane.handled(seq);
  return bindEvent(module, envelope, () => messageKey(module.name, envelope.from, envelope.seq), { event: source, cursor: cursor.value }, cursor, stage, { from: envelope.from }, committed);
}

/**
 * The parts every invocation of an event has: its id, its overlay, its scope (with the step's
 * idempotency key, the same for every run of the step: see idempotencyKey.ts) and its bound imports.
 */
function open(module: InvocationModule, kind: Envelope['kind'], events: number, idempotencyKey: () => string, enqueuedBy: Job['enqueuedBy'], fields: Record<string, string>) {
  const invocationId = randomUUID();
  const transaction = module.store.eventTransaction();
  const scale = Math.max(1, events);
  const caps = scale === 1 ? module.caps : (Object.fromEntries(Object.entries(module.caps).map(([k, v]) => [k, k === 'storedBytes' ? v : v * scale])) as HostCaps);
  const scope = new InvocationScope(module.name, module.store, transaction, caps, () => module.logger.child({ event: kind, invocationId, ...fields }), idempotencyKey);
  // Before the imports are bound: they trace their calls into it.
  const trace = (scope.trace = module.tracing ? new InvocationTrace(module.tracing) : undefined);
  const options: CallOptions = { imports: module.hostImports(scope, enqueuedBy), invocationId };
  /** The call's outcome with the guest's output logged and the caps applied. */
  const settle = (called: CallOutcome): CallOutcome => {
    logGuestOutput(scope, called.output);
    const outcome = withCap(scope, 'on-event', invocationId, called);
    if (trace) traceInvoked(trace, outcome);
    return outcome;
  };
  return { transaction, scope, options, settle, trace };
}

/** Ends the invocation's `corral.invoke` span with its fuel and, for a signal, its name. */
function traceInvoked(trace: InvocationTrace, outcome: CallOutcome): void {
  if (outcome.ok) return trace.invoked('ok', outcome.fuelUsed);
  const { signal } = outcome;
  trace.invoked('signal', 'fuelUsed' in signal && typeof signal.fuelUsed === 'number' ? signal.fuelUsed : 0, signal);
}

/** A step's outcome as its span reports it (see `Outcome`). */
function outcomeOf(outcome: DeliveryOutcome): Outcome {
  if (outcome.ok) return 'ok';
  if ('signal' in outcome) return 'signal';
  if ('refused' in outcome) return 'stale';
  return outcome.error instanceof RejectedEvents ? 'err' : 'error';
}

/** The index of the first value the guest answered `err`, logged; -1 when none. */
function firstRejected(values: readonly unknown[], scope: InvocationScope): number {
  const rejected = values.findIndex((v) => (v as { tag?: string } | undefined)?.tag === 'err');
  if (rejected >= 0) scope.logger.warn({ error: (values[rejected] as { val?: unknown }).val, eventIndex: rejected }, 'on-event returned an error; the event is dropped with its state writes');
  return rejected;
}

/**
 * One event that is not a chain step. `stage` runs when its turn comes and stages corral's own
 * bookkeeping (a timer's consumption, a cron tick's record), which commits with the handler's writes,
 * or alone when the handler answers `err` (the event is not offered again); `'stale'` refuses the event.
 */
function bindEvent(
  module: InvocationModule,
  envelope: Exclude<Envelope, { kind: 'chain' }>,
  idempotencyKey: () => string,
  enqueuedBy: Job['enqueuedBy'],
  cursor: Commit['cursor'],
  stage: (transaction: StateTransaction) => Bookkeeping | null | 'stale',
  fields: Record<string, string> = {},
  committed?: () => void,
): DeliveryExtras {
  const { transaction, scope, options, settle, trace } = open(module, envelope.kind, 1, idempotencyKey, enqueuedBy, fields);
  let bookkeeping: Bookkeeping | null = null;
  /** How the event ended, for its span: set as it goes, `error` if the call or the commit threw. */
  let ended: Outcome = 'error';
  const begin = () => {
    if (trace) beginEventTrace(trace, module.name, envelope);
    module.store.beginEvent(transaction);
    const staged = stage(transaction);
    if (staged === 'stale') {
      ended = 'stale';
      return false;
    }
    bookkeeping = staged;
    trace?.invoking();
    return true;
  };
  const complete = async (called: CallOutcome): Promise<DeliveryOutcome> => {
    const outcome = settle(called);
    if (!outcome.ok) {
      ended = 'signal';
      return outcome; // a signal: the overlay is dropped
    }
    if (firstRejected([outcome.value], scope) >= 0) {
      if (bookkeeping) await module.store.commit(bookkeeping);
      committed?.();
      ended = 'err';
      return outcome;
    }
    await module.store.commit({ writes: transaction.writes(), sizeDelta: transaction.sizeDelta, ...(cursor ? { cursor } : {}) });
    committed?.();
    ended = 'ok';
    return outcome;
  };
  const end = () => {
    module.store.endEvent(transaction);
    trace?.end(ended);
  };
  return { options, complete, begin, end };
}

/**
 * The root span of an event that is not a chain step: `corral.step` for a custom event (a child of its
 * publisher's span when it carries a `traceparent`), `corral.timer`, `corral.schedule`.
 */
function beginEventTrace(trace: InvocationTrace, module: string, envelope: Exclude<Envelope, { kind: 'chain' }>): void {
  switch (envelope.kind) {
    case 'custom': {
      // Checked when published; one read back from PostgreSQL that does not parse starts a trace of its own.
      const parent = envelope.traceparent === undefined ? undefined : parseTraceparent(envelope.traceparent);
      const topic = (envelope.event.val as { topic?: unknown }).topic;
      trace.begin(SPAN.step, { [ATTR.module]: module, [ATTR.event]: 'custom', [ATTR.events]: 1, ...(typeof topic === 'string' ? { [ATTR.topic]: topic } : {}) }, typeof parent === 'object' ? parent : undefined);
      return;
    }
    case 'timer':
      return trace.begin(SPAN.timer, { [ATTR.module]: module, [ATTR.event]: 'timer', [ATTR.timerTag]: envelope.timer.tag });
    case 'schedule':
      return trace.begin(SPAN.schedule, { [ATTR.module]: module, [ATTR.event]: 'schedule', [ATTR.cronName]: envelope.cron.name });
    case 'message':
      return trace.begin(SPAN.step, { [ATTR.module]: module, [ATTR.event]: 'message', [ATTR.events]: 1 });
  }
}

/** One step of a chain feed: its events in one invocation, committed with the cursor and the journal; or the undo of a reorged block. */
function bindChainStep(module: InvocationModule, envelope: Extract<Envelope, { kind: 'chain' }>): DeliveryExtras {
  const { chainId, delivery } = envelope;
  const source = chainSource(chainId);
  const cursor = cursorToJson(delivery.cursor);
  const key = () => chainStepKey(module.name, chainId, delivery);
  const { transaction, scope, options, settle, trace } = open(module, 'chain', delivery.events.length, key, { event: source, cursor }, { chainId: String(chainId), block: String(delivery.cursor.number) });
  const { undo } = delivery;
  if (!undo) scope.chainBlock = { chainId, number: delivery.cursor.number, hash: delivery.cursor.hash };
  const undoPlan = () => module.undoPlan(chainId, undo!.entry.number);
  /** The undo as staged when the step's turn came. */
  let staged: UndoPlan | undefined;
  let ended: Outcome = 'error';
  const begin = () => {
    if (trace) {
      const attributes = { [ATTR.module]: module.name, [ATTR.event]: 'chain', [ATTR.chainId]: Number(chainId), [ATTR.blockNumber]: Number(delivery.cursor.number), [ATTR.blockHash]: delivery.cursor.hash, [ATTR.events]: delivery.events.length };
      trace.begin(SPAN.step, undo ? { ...attributes, [ATTR.undo]: true } : attributes);
    }
    module.store.beginEvent(transaction);
    // The feed's own records (a factory's children) commit with the step, or not at all, and count
    // toward `storedBytes` as the module's own writes do: a factory naming children without end must
    // not grow a module past its cap. Past it, the scope keeps the tripped cap and the step ends as
    // `HostLimitExceeded storedBytes` (withCap), its writes dropped and its cursor not moved.
    const admit = (sizeDelta: number) => scope.check('storedBytes', scope.state.storedBytes + sizeDelta);
    try {
      for (const write of delivery.writes ?? []) transaction.set(write.key, write.value, admit);
    } catch (error) {
      if (!(error instanceof HostLimitError)) throw error;
    }
    if (undo) staged = stageUndo(transaction, undo, undoPlan());
    if (undo && staged === undefined) {
      ended = 'stale';
      return false;
    }
    // An empty step calls nothing (the actor goes straight to `complete`): no invoke span.
    if (delivery.events.length > 0) trace?.invoking();
    return true;
  };
  const complete = async (called: CallOutcome): Promise<DeliveryOutcome> => {
    const outcome = await completeStep(called);
    ended = outcomeOf(outcome);
    return outcome;
  };
  const completeStep = async (called: CallOutcome): Promise<DeliveryOutcome> => {
    const outcome = settle(called);
    if (!outcome.ok) return outcome; // a signal: the overlay is dropped
    const rejected = firstRejected(outcome.value as unknown[], scope);
    if (rejected >= 0) return { ok: false, error: new RejectedEvents([rejected]) };
    // An undo says so: the store takes back what the undone block caused (see ReorgMarks).
    const journal = delivery.journal ? { journal: { chainId, ...delivery.journal, ...(undo ? { undone: true as const } : {}) } } : {};
    const commit: Commit = { writes: transaction.writes(), sizeDelta: transaction.sizeDelta, cursor: { source, value: cursor }, ...journal };
    if (!undo) {
      await module.store.commit(commit);
      return outcome;
    }
    // The undo's plan once more, in the commit's own turn: a job's bookkeeping (a task failed and
    // rescheduled) may have written one of the block's keys since the step began, and must stand.
    if (!(await module.store.commitIf(commit, () => samePlan(undoPlan(), staged)))) return { ok: false, refused: 'stale' };
    return outcome;
  };
  const end = () => {
    module.store.endEvent(transaction);
    trace?.end(ended);
  };
  return { options, complete, begin, end, each: 'err' };
}

/**
 * Stages the undo of a reorged block when the step's turn comes, after every earlier commit: `plan` is
 * the undo as the store has it now (see planUndo; its restores follow the record as another chain's
 * undo may have rebased it since the feed read it). The feed planned it before queueing the step, and
 * named the kept keys in its events; if a commit since then wrote one of the block's keys, the step is
 * stale (the feed plans again). Restoring reads each key: a job that writes one before the step
 * commits is refused and re-run. Returns the plan staged, or undefined when stale.
 */
function stageUndo(transaction: StateTransaction, undo: NonNullable<FeedDelivery['undo']>, plan: UndoPlan | undefined): UndoPlan | undefined {
  if (!plan || !undo.plan || !sameKept(plan, undo.plan)) return undefined;
  for (const write of timerRestores(retractMessages(plan.restores, transaction), (key) => transaction.get(key))) {
    if (write.value === null) transaction.delete(write.key);
    else transaction.set(write.key, write.value);
  }
  return plan;
}

/**
 * One run of a task: `run-job(task-type, payload)` with the module's host imports bound to the job's
 * own transaction (committed by the runner, not here) and its idempotency key (the job's id: the same
 * on every retry). `invoke` calls the job component.
 */
export async function runJob(module: InvocationModule, job: Job, transaction: StateTransaction, invoke: (args: unknown[], options: CallOptions) => Promise<CallOutcome>): Promise<JobAttempt> {
  const invocationId = randomUUID();
  const scope = new InvocationScope(module.name, module.store, transaction, module.caps, () => module.logger.child({ job: job.id, type: userType(job), invocationId }), () => jobIdempotencyKey(module.name, job.id));
  const trace = (scope.trace = module.tracing ? new InvocationTrace(module.tracing) : undefined);
  if (trace) {
    trace.begin(SPAN.job, { [ATTR.module]: module.name, [ATTR.jobId]: job.id, [ATTR.jobType]: userType(job), [ATTR.jobAttempt]: job.attempts + 1 });
    trace.invoking();
  }
  let ended: Outcome = 'error';
  try {
    const called = await invoke([userType(job), job.payload], { imports: module.hostImports(scope, { job: job.id }), invocationId });
    logGuestOutput(scope, called.output);
    const outcome = withCap(scope, 'run-job', invocationId, called);
    if (trace) traceInvoked(trace, outcome);
    if (!outcome.ok) {
      ended = 'signal';
      return { ok: false, error: outcome.signal.message, signal: outcome.signal.name };
    }
    const value = outcome.value as { tag?: string; val?: unknown } | undefined;
    if (value?.tag === 'err') {
      ended = 'err';
      return { ok: false, error: String(value.val) };
    }
    ended = 'ok';
    return { ok: true, durationMs: outcome.durationMs, fuelUsed: outcome.fuelUsed, ...(outcome.startedAt === undefined ? {} : { startedAt: outcome.startedAt }) };
  } finally {
    trace?.end(ended);
  }
}
