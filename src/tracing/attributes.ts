/**
 * Every span and attribute name corral's traces use, in one place (docs/tracing.md lists them): spans
 * are `corral.<what>`, attributes `corral.<field>`, so they never collide with OpenTelemetry's
 * semantic conventions or an embedder's own.
 */
export const SPAN = {
  /** One step of a module: a chain step (its events in one invocation) or a custom event. */
  step: 'corral.step',
  /** One invocation of a component's export, child of its step, job, timer or tick. */
  invoke: 'corral.invoke',
  /** One host call of an invocation, child of its `corral.invoke`. */
  host: 'corral.host',
  /** One run of a task (a root). */
  job: 'corral.job',
  /** One timer that fell due (a root). */
  timer: 'corral.timer',
  /** One cron tick (a root). */
  schedule: 'corral.schedule',
  /** One run of a module's `query` export (`engine.query`, the read API's module queries; a root). */
  query: 'corral.query',
} as const;

export const ATTR = {
  module: 'corral.module',
  /** `chain`, `custom`, `timer` or `schedule`. */
  event: 'corral.event',
  chainId: 'corral.chain_id',
  blockNumber: 'corral.block.number',
  blockHash: 'corral.block.hash',
  /** Events handed to the guest in the step. */
  events: 'corral.events',
  /** The step undoes a reorged block. */
  undo: 'corral.undo',
  topic: 'corral.topic',
  fuel: 'corral.fuel',
  /** How it ended: see `Outcome`. */
  outcome: 'corral.outcome',
  /** The signal's name when an invocation ended in one (`OutOfFuel`, `Trap`, …). */
  signal: 'corral.signal',
  invocationId: 'corral.invocation_id',
  hostInterface: 'corral.host.interface',
  hostFunction: 'corral.host.function',
  hostBytesIn: 'corral.host.bytes_in',
  hostBytesOut: 'corral.host.bytes_out',
  hostOutcome: 'corral.host.outcome',
  jobId: 'corral.job.id',
  jobType: 'corral.job.type',
  /** 1 for the first run, then one more per retry. */
  jobAttempt: 'corral.job.attempt',
  timerTag: 'corral.timer.tag',
  cronName: 'corral.cron.name',
  /** The path a query asked (`/orders`); its parameters are not recorded (they may be anyone's input). */
  queryPath: 'corral.query.path',
} as const;

/**
 * `corral.outcome` of a step or invocation: `ok` (committed), `err` (the guest answered `err`: the
 * event is dropped with its writes), `signal` (see `corral.signal`), `stale` (refused when its turn
 * came), `error` (the call or the commit could not run).
 */
export type Outcome = 'ok' | 'err' | 'signal' | 'stale' | 'error';

/** `corral.host.outcome`: `ok`, `fault` (the `err` of the import's result), `limit` (a tripped cap), `error`. */
export type HostOutcome = 'ok' | 'fault' | 'limit' | 'error';

/**
 * `corral.outcome` of a `corral.query` (and the `outcome` of `corral_query_total`): the QueryResult's
 * kind as the module ended it, `answer`, `fault` (its `err`), `signal`, `too-large`, `busy` (no slot
 * came free: nothing ran), `unknown-module` (unloaded while it waited), `no-query` (the component does
 * not export `query`), or `error` (the store failed).
 */
export type QueryOutcome = 'answer' | 'fault' | 'signal' | 'too-large' | 'busy' | 'unknown-module' | 'no-query' | 'error';
