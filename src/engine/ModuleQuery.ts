import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { HostBinding } from '../host/bindHost.ts';
import type { Fault } from '../host/generated/corral-module-types.js';
import { InvocationScope } from '../host/InvocationScope.ts';
import { logGuestOutput } from '../host/logging.ts';
import { bindQueryHost } from '../host/queryHost.ts';
import { withCap } from '../host/withCap.ts';
import type { HostCaps } from '../limits/hostCaps.ts';
import type { Component, Limits } from '../runtime/Component.ts';
import type { Runtime } from '../runtime/Runtime.ts';
import type { Signal } from '../signals/signalFromData.ts';
import type { QueryOutcome } from '../tracing/attributes.ts';
import { traceQuery, type Tracing } from '../tracing/Tracing.ts';
import type { CommittedReader, EngineStore, ModuleReadView, ModuleStore } from '../store/EngineStore.ts';
import { StateTransaction } from '../store/StateTransaction.ts';
import type { QueryRuntime } from './QueryRuntime.ts';

/**
 * What `engine.query(module, path, params)` ends with: the module's answer, its `err`, the signal that
 * stopped it, or why it did not run. Never thrown: src/metrics/api/queryAnswer.ts maps each case to an
 * HTTP answer.
 */
export type QueryResult =
  /** `ok(answer)`. */
  | { kind: 'answer'; module: string; answer: string; fuelUsed: number; durationMs: number }
  /** The module answered `err(fault)` (a `denied` it got from the host and passed on, a `not-found` of its own…). */
  | { kind: 'fault'; module: string; fault: Fault }
  /** Fuel, deadline, memory, a host cap or a trap stopped it. */
  | { kind: 'signal'; module: string; signal: Signal }
  /** The module's component does not export `query` (it was built against `module`, not `queryable-module`). */
  | { kind: 'no-query'; module: string }
  /** No module of that name is loaded here. */
  | { kind: 'unknown-module'; module: string }
  /** `[engine.query]` `max_concurrent` queries ran for all of `checkout_timeout_ms`: this one did not start. */
  | { kind: 'busy'; module: string; waitedMs: number }
  /** The answer was longer than `[engine.query]` `max_result_bytes`; it is dropped. */
  | { kind: 'too-large'; module: string; bytes: number; max: number };

/** Reads of a module that has committed nothing yet: no key. */
const NOTHING: CommittedReader & Pick<ModuleReadView, 'get'> = {
  get: async () => undefined,
  getSync: () => undefined,
  // eslint-disable-next-line require-yield -- an empty listing
  keys: async function* () {
    return;
  },
};

/** What one module's queries need from it, resolved at its load. */
export interface QuerySource {
  name: string;
  /** Its component file and digest, and the load options its events' component got (imports placeholders, `configure`, WASI). */
  load: (runtime: Runtime, limits: Limits, pool: { minInstances: number; maxInstances: number; maxIdleMs: number; checkoutTimeoutMs: number }) => Promise<Component>;
  specifiers: HostBinding['specifiers'];
  caps: HostCaps;
  /** The module's store, for the scope's type only: a query's transaction is never committed, and its `set` is refused before the store is asked anything. */
  state: ModuleStore;
  logger: Logger;
  /** `[modules.query]`, each capped by `[engine.query]`. */
  limits: Limits;
  /** Where a `corral.query` span per query goes (none when the engine does not trace). */
  tracing?: Tracing | undefined;
}

/**
 * The `query` export of one module: a component of its own (`<name>-query`) on the query runtime,
 * loaded at the first query, with the module's `configure` on each fresh instance. Each query opens a
 * read view of committed state (each step whole or not at all), runs on it and closes it: it never
 * takes the module's commit turn nor waits for its events, and events never wait for it.
 */
export class ModuleQuery {
  private component: Promise<Component> | undefined;
  private closed = false;

  constructor(
    private readonly shared: QueryRuntime,
    private readonly store: EngineStore,
    private readonly source: QuerySource,
  ) {}

  /** Runs one query: traced (`corral.query`) and counted (`corral_query_total`) by its outcome. */
  async run(path: string, params: readonly (readonly [string, string])[]): Promise<QueryResult> {
    const module = this.source.name;
    const end = this.source.tracing ? traceQuery(this.source.tracing, module, path) : undefined;
    const ran: { fuel?: number } = {};
    let result: QueryResult;
    try {
      result = await this.answer(path, params, ran);
    } catch (error) {
      this.shared.count(module, 'error');
      end?.('error', ran.fuel);
      throw error;
    }
    const outcome: QueryOutcome = result.kind;
    this.shared.count(module, outcome);
    end?.(outcome, ran.fuel, result.kind === 'signal' ? result.signal.name : undefined);
    return result;
  }

  private async answer(path: string, params: readonly (readonly [string, string])[], ran: { fuel?: number }): Promise<QueryResult> {
    const module = this.source.name;
    const asked = performance.now();
    const release = await this.shared.acquire();
    if (!release) return { kind: 'busy', module, waitedMs: Math.round(performance.now() - asked) };
    try {
      if (this.closed) return { kind: 'unknown-module', module };
      const component = await this.loaded();
      const view = await this.store.readView();
      try {
        const committed = (await view.module(module)) ?? NOTHING;
        const invocationId = randomUUID();
        const { caps, state, logger, specifiers } = this.source;
        const scope = new InvocationScope(module, state, new StateTransaction(committed), caps, () => logger.child({ query: path, invocationId }));
        const called = await component.invoke('query', [path, params.map(([k, v]) => [k, v])], { imports: bindQueryHost(specifiers, scope, (key) => committed.get(key)), invocationId });
        logGuestOutput(scope, called.output);
        const outcome = withCap(scope, 'query', invocationId, called);
        if (outcome.ok) ran.fuel = outcome.fuelUsed;
        else if ('fuelUsed' in outcome.signal && typeof outcome.signal.fuelUsed === 'number') ran.fuel = outcome.signal.fuelUsed;
        if (!outcome.ok) return { kind: 'signal', module, signal: outcome.signal };
        // The glue returns `ok`'s string itself and an `err` as `{ tag: 'err', val }`.
        const value = outcome.value as string | { tag: 'err'; val: Fault };
        if (typeof value !== 'string') return { kind: 'fault', module, fault: value.val };
        const bytes = Buffer.byteLength(value, 'utf8');
        const max = this.shared.options.maxResultBytes;
        if (bytes > max) return { kind: 'too-large', module, bytes, max };
        return { kind: 'answer', module, answer: value, fuelUsed: outcome.fuelUsed, durationMs: outcome.durationMs };
      } finally {
        await view.close();
      }
    } finally {
      release();
    }
  }

  /** The module is unloaded: its query component goes (a query in flight finishes). */
  close(): void {
    this.closed = true;
    void this.component?.then(
      (c) => c.close(),
      () => undefined,
    );
  }

  /** Its query component, loaded once; a failed load is tried again by the next query. */
  private loaded(): Promise<Component> {
    if (this.component) return this.component;
    const { maxConcurrent, maxIdleMs, checkoutTimeoutMs } = this.shared.options;
    // Up to `maxConcurrent` of its queries at once; the engine-wide slots bound them first, so a
    // checkout of this pool never waits.
    const loading = this.source.load(this.shared.runtime(), this.source.limits, { minInstances: 0, maxInstances: maxConcurrent, maxIdleMs, checkoutTimeoutMs });
    loading.catch(() => {
      if (this.component === loading) this.component = undefined;
    });
    return (this.component = loading);
  }
}
