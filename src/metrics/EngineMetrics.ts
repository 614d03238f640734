import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import type { Engine } from '../engine/Engine.ts';
import type { EndpointStats } from '../chain/EndpointHealth.ts';
import { EngineError } from '../errors/EngineError.ts';
import { CHECKOUT_WAIT_BUCKETS_MS, type PoolStats } from '../runtime/InstancePool.ts';
import { systemClock, type Clock } from '../clock/Clock.ts';
import { DEFAULT_READINESS } from '../limits/defaults.ts';
import { readinessOf, type Readiness, type ReadinessBounds } from './readiness.ts';
import { readApiOff, type ReadApiHandler } from './api/routes.ts';

const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;
/** How `engine.poolStats()` names a module's jobs pool. */
const JOBS_POOL = '/jobs';

/**
 * `corral_pool_checkout_wait_seconds`, a Prometheus histogram built at scrape time from the buckets
 * each pool keeps (`PoolStats.checkoutWaitBuckets`): the pools live in the runtime, which knows no
 * metrics, and a histogram cannot be set from totals through prom-client's own class.
 */
function checkoutWaitHistogram(pools: () => (readonly [Record<string, string>, PoolStats])[]) {
  const name = 'corral_pool_checkout_wait_seconds';
  const help = 'Time each granted checkout waited for an instance.';
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const [labels, p] of pools()) {
        let cumulative = 0;
        CHECKOUT_WAIT_BUCKETS_MS.forEach((bound, i) => {
          cumulative += p.checkoutWaitBuckets[i] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound / 1000 }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: p.checkouts });
        values.push({ metricName: `${name}_sum`, labels, value: p.checkoutWaitMs.total / 1000 });
        values.push({ metricName: `${name}_count`, labels, value: p.checkouts });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
}

/** How `EngineMetrics` judges readiness. */
export interface EngineMetricsOptions {
  /** What head ages are measured by (default: the system clock); a test passes its manual clock. */
  clock?: Clock;
  /** `[engine.readiness]`; each bound defaults to `DEFAULT_READINESS`. */
  readiness?: Partial<ReadinessBounds>;
}

/**
 * The engine's Prometheus metrics. Durations are observed as they happen (from `engine.invocations$`,
 * once the metrics are attached); everything else is read from the engine when scraped,
 * so a scrape always agrees with `engine.actors()`, `rpcStats()`, `poolStats()` and
 * `chainPositions()`. Every series is prefixed `corral_`.
 */
export class EngineMetrics {
  readonly registry = new Registry();
  private readonly subscriptions: Subscription[] = [];
  private readonly clock: Clock;
  private readonly bounds: ReadinessBounds;
  /** Per configured chain, when (on `clock`) its last new canonical block arrived. */
  private readonly headSeenAt = new Map<string, number>();

  constructor(
    private readonly engine: Engine,
    options: EngineMetricsOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.bounds = { ...DEFAULT_READINESS, ...options.readiness };
    // A chain that already has a head when the metrics start is counted fresh from now: its age is not known before.
    for (const { chainId, head } of engine.chainHeads()) {
      if (head !== undefined) this.headSeenAt.set(chainId, this.clock.now());
      this.subscriptions.push(engine.blocks$(BigInt(chainId)).subscribe(() => this.headSeenAt.set(chainId, this.clock.now())));
    }
    const registers = [this.registry];
    const duration = new Histogram({
      name: 'corral_invocation_duration_seconds',
      help: 'Time a module handler ran per invocation (a chain step of several events is one invocation).',
      labelNames: ['module', 'outcome'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.subscriptions.push(engine.invocations$.subscribe((i) => duration.observe({ module: i.module, outcome: i.outcome }, i.durationMs / 1000)));
    const jobDuration = new Histogram({
      name: 'corral_job_duration_seconds',
      help: 'Time a run-job ran, per module, for the runs that completed.',
      labelNames: ['module'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.subscriptions.push(engine.jobs$.subscribe((r) => r.outcome === 'done' && jobDuration.observe({ module: r.module }, r.durationMs / 1000)));

    // Read at scrape time. Counters that the engine keeps are set from its totals.
    const actors = () => engine.actors();
    const counterFrom = (name: string, help: string, labelNames: string[], read: (set: (labels: Record<string, string>, value: number) => void) => void) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          read((labels, value) => this.inc(labels, value));
        },
      });
    const gaugeFrom = (name: string, help: string, labelNames: string[], read: (set: (labels: Record<string, string>, value: number) => void) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          read((labels, value) => this.set(labels, value));
        },
      });

    counterFrom('corral_invocations_total', 'Invocations that ran, per module.', ['module'], (set) => actors().forEach((a) => set({ module: a.name }, a.invocations)));
    counterFrom('corral_signals_total', 'Invocations ended by a signal, by module and signal.', ['module', 'signal'], (set) =>
      actors().forEach((a) => Object.entries(a.failures).forEach(([signal, n]) => set({ module: a.name, signal }, n ?? 0))),
    );
    counterFrom('corral_fuel_used_total', 'Fuel the module used.', ['module'], (set) => actors().forEach((a) => set({ module: a.name }, a.fuelUsed.total)));
    counterFrom('corral_restarts_total', 'Restarts of the module after a failure.', ['module'], (set) => actors().forEach((a) => set({ module: a.name }, a.restarts)));
    counterFrom('corral_refused_total', 'Events refused without running (circuit open, or stopped).', ['module'], (set) => actors().forEach((a) => set({ module: a.name }, a.refused)));
    counterFrom('corral_shadow_steps_total', 'Steps a `[modules.shadow]` candidate handled like the live module (`same`), otherwise (`different`), not at all because it fell behind (`skipped`), or whose shadow run failed (`failed`).', ['module', 'result'], (set) =>
      engine.shadowReports().forEach((r) => Object.entries(r.steps).forEach(([result, n]) => set({ module: r.module, result }, n))),
    );
    gaugeFrom('corral_breaker_state', 'Circuit breaker: 0 closed, 1 half-open, 2 open.', ['module'], (set) => actors().forEach((a) => set({ module: a.name }, BREAKER_VALUE[a.breaker])));
    gaugeFrom('corral_mailbox_depth', 'Events queued for the module.', ['module'], (set) => actors().forEach((a) => set({ module: a.name }, a.mailboxDepth)));

    // Every pool series has `module` and `pool`: `events` (the module's handler) or `jobs` (its run-job).
    const pools = () =>
      Object.entries(engine.poolStats()).map(([key, p]) => {
        const jobs = key.endsWith(JOBS_POOL);
        return [{ module: jobs ? key.slice(0, -JOBS_POOL.length) : key, pool: jobs ? 'jobs' : 'events' }, p] as const;
      });
    const poolLabels = ['module', 'pool'];
    counterFrom('corral_pool_checkouts_total', 'Instance checkouts (one per invocation).', poolLabels, (set) => pools().forEach(([l, p]) => set(l, p.checkouts)));
    counterFrom('corral_pool_checkout_wait_seconds_total', 'Time invocations waited for an instance.', poolLabels, (set) => pools().forEach(([l, p]) => set(l, p.checkoutWaitMs.total / 1000)));
    counterFrom('corral_pool_checkout_errors_total', 'Checkouts that failed, by reason: timeout (checkout_timeout_ms), deadline (the caller\'s), aborted, closed (unloaded or stopping).', [...poolLabels, 'reason'], (set) =>
      pools().forEach(([l, p]) => Object.entries(p.checkoutErrors).forEach(([reason, n]) => set({ ...l, reason }, n))),
    );
    this.registry.registerMetric(checkoutWaitHistogram(pools) as never);
    counterFrom('corral_pool_recycled_total', 'Instances discarded, by reason.', [...poolLabels, 'reason'], (set) =>
      pools().forEach(([l, p]) => Object.entries(p.recycled).forEach(([reason, n]) => set({ ...l, reason }, n))),
    );
    gaugeFrom('corral_pool_instances', 'Instances alive (idle or in use), across workers.', poolLabels, (set) => pools().forEach(([l, p]) => set(l, p.size)));
    gaugeFrom('corral_pool_in_use', 'Instances running an invocation now.', poolLabels, (set) => pools().forEach(([l, p]) => set(l, p.inUse)));

    counterFrom('corral_chain_events_total', 'Chain events (logs, blocks, removed logs) modules handled and committed since start.', ['module', 'chain'], (set) => {
      for (const p of engine.chainPositions()) set({ module: p.module, chain: p.chainId }, p.events);
    });
    counterFrom('corral_chain_steps_total', 'Chain steps committed since start (each moves a module cursor).', ['module', 'chain'], (set) => {
      for (const p of engine.chainPositions()) set({ module: p.module, chain: p.chainId }, p.steps);
    });
    counterFrom('corral_reorg_kept_keys_total', 'Keys an undone (reorged) block had written that kept a later write of another source instead of being restored; each named to the module in a corral/reorg-kept event.', ['module', 'chain'], (set) => {
      for (const p of engine.chainPositions()) set({ module: p.module, chain: p.chainId }, p.keptOnUndo);
    });
    gaugeFrom('corral_chain_head', 'The head block of each chain, as followed.', ['chain'], (set) => {
      for (const p of engine.chainPositions()) if (p.head !== undefined) set({ chain: p.chainId }, Number(p.head));
    });
    gaugeFrom('corral_module_block', 'The last block each module fully handled, per chain.', ['module', 'chain'], (set) => {
      for (const p of engine.chainPositions()) if (p.block !== undefined) set({ module: p.module, chain: p.chainId }, Number(p.block));
    });
    gaugeFrom('corral_bus_lag_blocks', 'Head minus the module\'s last handled block (confirmations included).', ['module', 'chain'], (set) => {
      for (const p of engine.chainPositions()) if (p.head !== undefined && p.block !== undefined) set({ module: p.module, chain: p.chainId }, Number(p.head - p.block));
    });
    gaugeFrom('corral_module_confirmations', 'Blocks the module\'s events wait below the head: corral_bus_lag_blocks minus this is how far it is behind.', ['module', 'chain'], (set) => {
      for (const p of engine.chainPositions()) set({ module: p.module, chain: p.chainId }, p.confirmations);
    });
    counterFrom('corral_reorgs_beyond_window_total', 'Reorgs deeper than the chain\'s reorg_window that reached the module (each halted it), since it was loaded.', ['module', 'chain'], (set) => {
      for (const p of engine.chainPositions()) set({ module: p.module, chain: p.chainId }, p.reorgsBeyondWindow);
    });
    gaugeFrom('corral_chain_head_age_seconds', 'Time since the chain\'s last new head (absent before the first): past [engine.readiness] max_head_age_ms it is chain-stalled.', ['chain'], (set) => {
      for (const { chainId } of engine.chainHeads()) {
        const age = this.headAgeMs(chainId);
        if (age !== undefined) set({ chain: chainId }, age / 1000);
      }
    });
    gaugeFrom('corral_module_caught_up', '1 once the module reached the head (less confirmations) since start; 0 while it backfills.', ['module', 'chain'], (set) => {
      for (const p of engine.chainPositions()) set({ module: p.module, chain: p.chainId }, p.caughtUp ? 1 : 0);
    });

    const rpc = () => engine.rpcStats();
    const rpcChains = (pick: 'calls' | 'bytes' | 'failed') => (set: (labels: Record<string, string>, value: number) => void) => {
      for (const [chain, purposes] of Object.entries(rpc().chains)) {
        for (const [purpose, methods] of Object.entries(purposes)) for (const [method, c] of Object.entries(methods ?? {})) set({ chain, purpose, method }, c[pick]);
      }
    };
    counterFrom('corral_rpc_calls_total', 'RPC requests by chain, purpose and method.', ['chain', 'purpose', 'method'], rpcChains('calls'));
    counterFrom('corral_rpc_response_bytes_total', 'RPC response bytes by chain, purpose and method.', ['chain', 'purpose', 'method'], rpcChains('bytes'));
    counterFrom('corral_rpc_failures_total', 'RPC requests that failed (error, no answer, malformed answer).', ['chain', 'purpose', 'method'], rpcChains('failed'));
    counterFrom('corral_module_rpc_calls_total', 'A module\'s own chain.request calls, by method.', ['module', 'method'], (set) => {
      for (const [module, methods] of Object.entries(rpc().modules)) for (const [method, c] of Object.entries(methods)) set({ module, method }, c.calls);
    });
    counterFrom('corral_module_rpc_denied_total', 'A module\'s chain.request calls refused (chain not granted, method not read-only: `(other)`).', ['module', 'method'], (set) => {
      for (const [module, methods] of Object.entries(rpc().modules)) for (const [method, c] of Object.entries(methods)) if (c.denied > 0) set({ module, method }, c.denied);
    });
    // RPC endpoint pools (src/chain/EndpointPool.ts) and the block-pinned cache. `endpoint` is the URL
    // redacted (scheme, host, port): API keys live in paths and queries and must not become labels. It
    // starts with the endpoint's index in rpc_urls, or two keys of one provider would share one series.
    counterFrom('corral_rpc_cached_total', 'Module RPC requests answered by the block-pinned cache, not by a node, by chain, purpose and method.', ['chain', 'purpose', 'method'], (set) => {
      for (const [chain, purposes] of Object.entries(rpc().chains)) {
        for (const [purpose, methods] of Object.entries(purposes)) for (const [method, c] of Object.entries(methods ?? {})) if (c.cached > 0) set({ chain, purpose, method }, c.cached);
      }
    });
    const endpoints = (each: (labels: { chain: string; endpoint: string }, e: EndpointStats) => void) => () => {
      for (const [chain, list] of Object.entries(engine.endpointStats())) for (const e of list) each({ chain, endpoint: e.label }, e);
    };
    const endpointLabels = ['chain', 'endpoint'];
    gaugeFrom('corral_rpc_endpoint_up', '1 while the endpoint serves the chain and is not ejected.', endpointLabels, (set) => endpoints((l, e) => set(l, e.up ? 1 : 0))());
    gaugeFrom('corral_rpc_endpoint_head', 'The highest block the endpoint is known to have.', endpointLabels, (set) => endpoints((l, e) => {
      if (e.head !== undefined) set(l, Number(e.head));
    })());
    gaugeFrom('corral_rpc_endpoint_latency_seconds', 'The endpoint\'s smoothed answer time.', endpointLabels, (set) => endpoints((l, e) => set(l, e.latencyMs / 1000))());
    counterFrom('corral_rpc_endpoint_requests_total', 'Requests sent to the endpoint (probes included).', endpointLabels, (set) => endpoints((l, e) => set(l, e.requests))());
    counterFrom('corral_rpc_endpoint_failures_total', 'Requests to the endpoint without a usable answer (transport, timeout, HTTP 5xx, internal error, lag answer).', endpointLabels, (set) => endpoints((l, e) => set(l, e.failures))());
    gaugeFrom('corral_chain_endpoints_healthy', 'Endpoints of a chain\'s pool (two or more rpc_urls) that answered their last request or probe and are not ejected: at 0 the chain is chain-stalled.', ['chain'], (set) => {
      for (const [chain, list] of Object.entries(engine.endpointStats())) {
        const health = poolHealth(list);
        if (health.endpoints) set({ chain }, health.endpoints.healthy);
      }
    });
    counterFrom('corral_rpc_endpoint_ejections_total', 'Times the endpoint was ejected after consecutive failures.', endpointLabels, (set) => endpoints((l, e) => set(l, e.ejections))());
    counterFrom('corral_query_total', 'Queries of each module\'s query export since start, by outcome: answer, fault (its err), signal, too-large, busy (no slot came free), unknown-module (unloaded meanwhile), error.', ['module', 'outcome'], (set) => {
      for (const [module, counts] of Object.entries(engine.queryStats())) for (const [outcome, n] of Object.entries(counts)) set({ module, outcome }, n ?? 0);
    });
    const jobs = () => Object.entries(engine.allJobStats());
    counterFrom('corral_jobs_total', 'Runs of tasks since start, by what became of them: done, retried (failed, will run again), dead (dead-lettered).', ['module', 'outcome'], (set) => {
      for (const [module, j] of jobs()) for (const outcome of ['done', 'retried', 'dead'] as const) set({ module, outcome }, j[outcome]);
    });
    counterFrom('corral_jobs_skipped_total', 'Tasks dropped without running or retry: module-gone, module-stopped, version-mismatch.', ['module', 'reason'], (set) => {
      for (const [module, j] of jobs()) for (const [reason, n] of Object.entries(j.skipped)) set({ module, reason }, n ?? 0);
    });
    counterFrom('corral_job_conflicts_total', 'Job commits refused because an event or another job changed what the job read (the job ran again).', ['module'], (set) => {
      for (const [module, j] of jobs()) set({ module }, j.conflicts);
    });
    counterFrom('corral_queue_rate_limited_total', 'Enqueues refused by the module\'s rate limit.', ['module'], (set) => {
      for (const [module, j] of jobs()) set({ module }, j.rateLimited);
    });
    gaugeFrom('corral_jobs_pending', 'Tasks waiting to run (due or not, retries included).', ['module'], (set) => {
      for (const [module, j] of jobs()) set({ module }, j.pending);
    });
    gaugeFrom('corral_jobs_running', 'Tasks running now.', ['module'], (set) => {
      for (const [module, j] of jobs()) set({ module }, j.running);
    });
    counterFrom('corral_messages_total', 'Messages between modules since start, per module, by what: sent, delivered (handled by it), retracted (its sends undone by a reorg), inbox-full (its sends refused at the receiver\'s bound), trimmed (entries of its outboxes deleted once handled), dead (messages it received whose step failed past their retries, dead-lettered).', ['module', 'outcome'], (set) => {
      for (const [module, m] of Object.entries(engine.messageStats())) {
        set({ module, outcome: 'sent' }, m.sent);
        set({ module, outcome: 'delivered' }, m.delivered);
        set({ module, outcome: 'retracted' }, m.retracted);
        set({ module, outcome: 'inbox-full' }, m.inboxFull);
        set({ module, outcome: 'trimmed' }, m.trimmed);
        set({ module, outcome: 'dead' }, m.dead);
      }
    });
    gaugeFrom('corral_ready', '1 when /readyz answers 200: every chain has a fresh head and every module serves within its lag bound.', [], (set) => set({}, this.readiness().ready ? 1 : 0));
    gaugeFrom('corral_module_not_ready', '1 for each module that keeps the engine from being ready, by reason: halted, stopped, breaker-open (quarantined), catching-up, lagging.', ['module', 'reason'], (set) => {
      for (const m of this.readiness().notReady) if (m.module !== undefined) set({ module: m.module, reason: m.reason }, 1);
    });
    gaugeFrom('corral_chain_not_ready', '1 for each configured chain that keeps the engine from being ready, by reason: no-head, chain-stalled.', ['chain', 'reason'], (set) => {
      for (const m of this.readiness().notReady) if (m.module === undefined && m.chain !== undefined) set({ chain: m.chain, reason: m.reason }, 1);
    });
    gaugeFrom('corral_dead_letters', 'Dead-lettered tasks each module keeps (bounded by [engine.jobs] dead_letter_max and dead_letter_max_age_ms).', ['module'], (set) => {
      for (const [module, j] of jobs()) set({ module }, j.deadLetters);
    });
    gaugeFrom('corral_store_bytes', 'Key and value bytes each module keeps.', ['module'], (set) => Object.entries(engine.storedBytes()).forEach(([module, bytes]) => set({ module }, bytes)));
    gaugeFrom('corral_store_quota_bytes', 'Key and value bytes each module may keep (caps.stored_bytes); a commit past it fails.', ['module'], (set) => Object.entries(engine.storeQuotas()).forEach(([module, bytes]) => set({ module }, bytes)));
    // On a store shared by replicas (PostgreSQL) only: which modules this replica owns, under which epoch.
    gaugeFrom('corral_module_owned', '1 for each module this replica owns (PostgreSQL store), labelled with the replica.', ['module', 'replica'], (set) => {
      const replica = engine.replica();
      if (replica) for (const module of engine.owned().keys()) set({ module, replica: replica.name }, 1);
    });
    gaugeFrom('corral_module_epoch', 'The fencing epoch under which this replica owns each module (PostgreSQL store): it grows at every acquire.', ['module'], (set) => {
      for (const [module, epoch] of engine.owned()) set({ module }, Number(epoch));
    });
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Ready: every chain has a fresh head, every module serves now and is within its lag bound (see `readinessOf`). */
  ready(): boolean {
    return this.readiness().ready;
  }

  /** Whether the engine is ready, and every reason it is not: each chain and each module, and why. */
  readiness(): Readiness {
    const pools = this.engine.endpointStats();
    const chains = this.engine.chainHeads().map(({ chainId, head }) => ({ chainId, head, headAgeMs: this.headAgeMs(chainId), ...poolHealth(pools[chainId]) }));
    return readinessOf(this.engine.actors(), this.engine.chainPositions(), chains, this.bounds);
  }

  private headAgeMs(chainId: string): number | undefined {
    const seen = this.headSeenAt.get(chainId);
    return seen === undefined ? undefined : this.clock.now() - seen;
  }

  close(): void {
    for (const s of this.subscriptions) s.unsubscribe();
  }
}

/** A pool's healthy endpoints, for readiness; nothing for a single endpoint (its stall is its head's age). */
function poolHealth(list: readonly EndpointStats[] | undefined): { endpoints?: { healthy: number; total: number } } {
  if (list === undefined || list.length < 2) return {};
  return { endpoints: { healthy: list.filter((e) => e.healthy).length, total: list.length } };
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** `http://host:port` it listens on. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` (Prometheus text), `/healthz` (200 while the process serves) and `/readyz` (200
 * while every module serves and has caught up with its chains, 503 otherwise; the body is the
 * `Readiness` as JSON, naming each module that is not ready and why) on `address` (`host:port`; port 0: any),
 * and the read API under `/v1` when `api` is given (src/metrics/api/routes.ts; 404 there otherwise).
 * Only `/v1` is behind the API's access checks: the other three stay open to scrapers and probes.
 */
export async function serveMetrics(metrics: EngineMetrics, address: string, api?: ReadApiHandler): Promise<MetricsServer> {
  const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/v1' || path.startsWith('/v1/')) {
      if (!api) return readApiOff(res);
      // The host is not looked at: a fixed base keeps a request's Host header out of the parsing.
      return api(req, res, new URL(req.url ?? '/', 'http://api'));
    }
    if (path === '/metrics') {
      metrics.text().then(
        (text) => {
          res.setHeader('content-type', metrics.registry.contentType);
          res.end(text);
        },
        (error: unknown) => {
          res.statusCode = 500;
          res.end(String(error));
        },
      );
      return;
    }
    if (path === '/healthz') return void res.end('ok\n');
    if (path === '/readyz') {
      const readiness = metrics.readiness();
      res.statusCode = readiness.ready ? 200 : 503;
      res.setHeader('content-type', 'application/json');
      return void res.end(`${JSON.stringify(readiness)}\n`);
    }
    res.statusCode = 404;
    res.end('not found: /metrics, /healthz, /readyz, /v1\n');
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (cause) {
    throw new EngineError('invalid-option', `metrics: cannot listen on ${address} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, { option: 'metrics', value: address }, cause);
  }
  const bound = server.address() as AddressInfo;
  return {
    url: `http://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}`,
    // Scrapers keep connections open: cut them, or closing would wait for them.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
