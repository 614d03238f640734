import { z } from 'zod';
import {
  DEFAULT_READINESS,
  RPC_CACHE_DEFAULTS,
  RPC_POOL_DEFAULTS,
  CHAIN_DEFAULTS,
  DEFAULT_DEAD_LETTERS,
  DEFAULT_FUEL,
  DEFAULT_GRACE_MS,
  DEFAULT_HOST_CALL_BUFFER_BYTES,
  DEFAULT_JOB_LIMITS,
  DEFAULT_MEMORY_BYTES,
  DEFAULT_POOL,
  DEFAULT_POSTGRES,
  DEFAULT_SUPERVISION,
  DEFAULT_TIMEOUT_MS,
  HIGH_RESOURCE_JOB_LIMITS,
  LEASE_SELF_FENCE_MS,
  MAX_HOST_CALL_BUFFER_BYTES,
  MAX_THREADS,
  MAX_TIMER_DELAY_MS,
  MIN_HOST_CALL_BUFFER_BYTES,
  DEFAULT_IDLE_INSTANCES,
  TRACING_DEFAULTS,
  DEFAULT_QUERY,
  DEFAULT_API,
} from '../limits/defaults.ts';
import { DEFAULT_HOST_CAPS } from '../limits/hostCaps.ts';
import { ModuleManifestSchema } from './ModuleManifestSchema.ts';

const positiveInt = z.number().int().positive();
/** Milliseconds: Node's timers take at most MAX_TIMER_DELAY_MS (a larger delay fires at once). */
const ms = positiveInt.max(MAX_TIMER_DELAY_MS);

/** An RPC endpoint, or `anvil`: a dev chain the engine starts on a free loopback port and stops with itself. */
const RpcUrl = z.string().refine((url) => url === 'anvil' || /^(https?|wss?):\/\/[^\s/]+/i.test(url), {
  message: 'an http(s):// or ws(s):// URL, or "anvil"',
});

const R = CHAIN_DEFAULTS.reconnect;
/** `[chains.<id>.reconnect]`: how a dropped WebSocket is reconnected (the fallback, if any, is polled meanwhile). */
export const ReconnectSchema = z
  .object({
    initialMs: ms.default(R.initialMs).describe('wait before the first reconnection (ms); each further one waits twice as long'),
    maxMs: ms.default(R.maxMs).describe('longest wait between two reconnections (ms)'),
    jitter: z.number().min(0).max(1).default(R.jitter).describe('random share of each wait (0–1), so engines on one node do not reconnect in step'),
  })
  .strict();

const PD = RPC_POOL_DEFAULTS;
/** `[chains.<id>.pool]`: how the endpoints of `rpc_urls` are probed, ranked and ejected. */
export const RpcPoolSchema = z
  .object({
    healthIntervalMs: ms.default(PD.healthIntervalMs).describe('each endpoint is asked `eth_blockNumber` this often (ms): its head and latency rank it'),
    maxHeadLagBlocks: z.number().int().min(0).max(1_000_000).default(PD.maxHeadLagBlocks).describe('an endpoint further behind the highest known head is tried last for requests at `latest` (blocks); requests at a block only go to endpoints that reached it'),
    ejectAfterErrors: positiveInt.max(1_000).default(PD.ejectAfterErrors).describe('consecutive failures (transport, timeout, HTTP 5xx, internal error) that eject an endpoint; an ejected one is tried after all others'),
    ejectMs: ms.default(PD.ejectMs).describe('an ejected endpoint\'s first time out (ms); doubles per further ejection, up to 5 minutes'),
  })
  .strict();

/** `[engine.rpc_cache]`: the block-pinned response cache shared by every module. */
export const RpcCacheSchema = z
  .object({
    enabled: z.boolean().default(RPC_CACHE_DEFAULTS.enabled).describe('module requests at a block hash (`eth_call` and the state reads at a block, `eth_getLogs` by `blockHash`, `eth_getBlockByHash`) are answered once per block for every module; a hit counts as `cached` in the RPC stats'),
    maxBytes: positiveInt.default(RPC_CACHE_DEFAULTS.maxBytes).describe('bytes of answers (and keys) kept; past it the least recently used are forgotten'),
  })
  .strict();

/** `[chains.<id>]` in engine.toml. The descriptions are the engine.toml reference (docs/reference/engine-toml.md, rendered by src/config/configReference.ts). */
export const ChainConfigSchema = z
  .object({
    rpcUrl: RpcUrl.optional().describe('`ws(s)://` (eth_subscribe), `http(s)://` (polled), or `"anvil"`: an embedded dev chain, its state kept in `state_dir`. One of `rpc_url`, `rpc_urls`'),
    rpcUrls: z
      .array(z.string().regex(/^(https?|wss?):\/\/[^\s/]+/i, 'an http(s):// or ws(s):// URL'))
      .min(1)
      .max(16)
      // The same endpoint twice would be asked twice on a failover and share its metric series: a typo, said so.
      .refine((urls) => new Set(urls).size === urls.length, { message: 'each endpoint once: a URL is listed twice' })
      .optional()
      .describe('several endpoints of the chain (ws and http), a pool: heads are subscribed on the first WebSocket one (polled through the pool while it is down), logs and module requests go to the fastest sound endpoint that reached the block asked for, failing over to the next'),
    pool: RpcPoolSchema.default(RpcPoolSchema.parse({})).describe('see `[chains.<id>.pool]`'),
    pollIntervalMs: ms.default(CHAIN_DEFAULTS.pollIntervalMs).describe('head polling interval of an HTTP endpoint, and of the fallback (ms)'),
    fallbackRpcUrl: z.string().regex(/^https?:\/\/[^\s/]+/i, 'an http(s):// URL').optional().describe('an HTTP endpoint polled while the WebSocket is down'),
    maxLogRange: positiveInt.default(CHAIN_DEFAULTS.maxLogRange).describe('largest `eth_getLogs` range when catching up; halved (for good) when the node refuses it'),
    reorgWindow: positiveInt.default(CHAIN_DEFAULTS.reorgWindow).describe('blocks whose handling keeps undo records; a deeper reorg halts the modules it reaches'),
    confirmations: z.number().int().min(0).max(1_000).default(CHAIN_DEFAULTS.confirmations).describe("blocks a trigger's events wait below the head, for triggers that set none (0: at once)"),
    orderbookUrl: z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/i, 'an http(s):// URL without query or fragment')
      .optional()
      .describe('base URL of the chain\'s CoW Protocol order book API (`https://api.cow.fi/mainnet`), for modules granted `cow_api`'),
    reconnect: ReconnectSchema.default(ReconnectSchema.parse({})).describe('see `[chains.<id>.reconnect]`'),
    blockTimeS: positiveInt
      .max(86_400)
      .optional()
      .describe('`"anvil"` only: mine a block every N seconds (default: a block per transaction, as anvil does)'),
  })
  .strict()
  .refine((chain) => chain.blockTimeS === undefined || chain.rpcUrl === 'anvil', { message: 'block_time_s applies to an embedded chain (rpc_url = "anvil") only', path: ['blockTimeS'] })
  .refine((chain) => (chain.rpcUrl === undefined) !== (chain.rpcUrls === undefined), { message: 'give either rpc_url or rpc_urls (a list), not both and not neither', path: ['rpcUrls'] })
  .refine((chain) => chain.rpcUrls === undefined || chain.fallbackRpcUrl === undefined, { message: 'fallback_rpc_url goes with rpc_url; with rpc_urls list the fallback among them', path: ['fallbackRpcUrl'] });

/** `[engine.limits]`: every module's limits and host-call caps unless it narrows them; the widest it may ask for. */
export const EngineLimitsSchema = z
  .object({
    fuel: positiveInt.default(DEFAULT_FUEL).describe('fuel per event (instructions, roughly); then `OutOfFuel`'),
    timeoutMs: z.number().positive().max(MAX_TIMER_DELAY_MS).default(DEFAULT_TIMEOUT_MS).describe('wall-clock deadline per event (ms); then `ExecutionTimeout`'),
    memoryBytes: positiveInt.default(DEFAULT_MEMORY_BYTES).describe('cap on each linear memory (bytes); `memory.grow` beyond it fails'),
    chainRequests: positiveInt.default(DEFAULT_HOST_CAPS.chainRequests).describe('`chain.request` calls per event'),
    rpcResponseBytes: positiveInt.default(DEFAULT_HOST_CAPS.rpcResponseBytes).describe('bytes of one RPC response'),
    httpFetches: positiveInt.default(DEFAULT_HOST_CAPS.httpFetches).describe('`http.fetch` and `cow-api` calls per event'),
    httpResponseBytes: positiveInt.default(DEFAULT_HOST_CAPS.httpResponseBytes).describe('bytes of one HTTP response body'),
    httpRequestBytes: positiveInt.default(DEFAULT_HOST_CAPS.httpRequestBytes).describe('bytes of one HTTP request body'),
    httpTimeoutMs: ms.default(DEFAULT_HOST_CAPS.httpTimeoutMs).describe('ms one HTTP request may take in all, from sending to the last byte of the answer (an `upstream` fault after); the invocation\'s deadline bounds it too'),
    storeOps: positiveInt.default(DEFAULT_HOST_CAPS.storeOps).describe('store get/set/delete/list-keys calls per event'),
    storeBytesWritten: positiveInt.default(DEFAULT_HOST_CAPS.storeBytesWritten).describe('key + value bytes `store.set` writes per event'),
    logRecords: positiveInt.default(DEFAULT_HOST_CAPS.logRecords).describe('`logging.log` records per event'),
    logBytes: positiveInt.default(DEFAULT_HOST_CAPS.logBytes).describe('message + fields bytes logged per event'),
    storedBytes: positiveInt.default(DEFAULT_HOST_CAPS.storedBytes).describe('key + value bytes a module may keep (checked at commit)'),
    messagesSent: positiveInt.default(DEFAULT_HOST_CAPS.messagesSent).describe('`messages.send` calls per event'),
    messageBytes: positiveInt.default(DEFAULT_HOST_CAPS.messageBytes).describe('payload + correlation id bytes of the messages sent per event'),
  })
  .strict();

const J = DEFAULT_JOB_LIMITS;
const H = HIGH_RESOURCE_JOB_LIMITS;
/** `[engine.jobs]`: limits of every job (a run of `run-job`), and what `high_resource_jobs` lifts them to. */
export const JobLimitsSchema = z
  .object({
    fuel: positiveInt.default(J.fuel).describe('fuel per job; then `OutOfFuel` and a retry'),
    timeoutMs: z.number().positive().max(MAX_TIMER_DELAY_MS).default(J.timeoutMs).describe('wall-clock deadline per job (ms); then `ExecutionTimeout` and a retry'),
    memoryBytes: positiveInt.max(4 * 1024 ** 3).default(J.memoryBytes).describe("cap on each linear memory of a job's instance (bytes)"),
    maxFuel: positiveInt.default(H.fuel).describe('fuel per job of a module granted `high_resource_jobs`'),
    maxTimeoutMs: z.number().positive().max(MAX_TIMER_DELAY_MS).default(H.timeoutMs).describe('deadline per job of a module granted `high_resource_jobs` (ms)'),
    maxMemoryBytes: positiveInt.max(4 * 1024 ** 3).default(H.memoryBytes).describe('memory cap of a module granted `high_resource_jobs` (bytes)'),
    deadLetterMax: positiveInt.default(DEFAULT_DEAD_LETTERS.maxCount).describe('dead letters a module keeps; past it the oldest is deleted'),
    deadLetterMaxAgeMs: positiveInt.default(DEFAULT_DEAD_LETTERS.maxAgeMs).describe('ms a dead letter is kept (deleted at start and hourly after that)'),
  })
  .strict();

/** `[engine.jobs]`'s dead-letter retention, as the engine takes it. */
export function deadLettersOf(jobs: z.output<typeof JobLimitsSchema>) {
  return { maxCount: jobs.deadLetterMax, maxAgeMs: jobs.deadLetterMaxAgeMs };
}

const P = DEFAULT_POOL;
/** `[engine.pool]`: the instance pool of every module's component (its events' and its jobs'). */
export const PoolSchema = z
  .object({
    maxInstances: positiveInt.default(P.maxInstances).describe('calls of one component in flight at once (each on an instance of its own); further calls wait for one'),
    maxUses: positiveInt.default(P.maxUses).describe('calls one instance serves before it is recycled, so leaks inside a guest cannot build up'),
    maxIdleMs: z.number().int().min(0).max(MAX_TIMER_DELAY_MS).default(P.maxIdleMs).describe('an instance idle this long is dropped; the next call builds a fresh one (ms)'),
    checkoutTimeoutMs: z.number().int().min(0).max(MAX_TIMER_DELAY_MS).default(P.checkoutTimeoutMs).describe('how long a call waits for an instance before it ends in `CheckoutTimeout` (ms)'),
    minInstances: z.number().int().min(0).default(P.minInstances).describe('instances built ahead of calls and kept (0: the first call that needs one builds it); at most `max_instances`'),
  })
  .strict()
  .refine((pool) => pool.minInstances <= pool.maxInstances, { message: 'min_instances is at most max_instances', path: ['minInstances'] });

/** `[engine.readiness]` in engine.toml: what `/readyz` tolerates before it answers 503. */
export const ReadinessSchema = z
  .object({
    maxLagBlocks: z.number().int().min(0).default(DEFAULT_READINESS.maxLagBlocks).describe("blocks a module that caught up may fall behind a chain's head (less its confirmations) and stay ready; past it `/readyz` names it `lagging`"),
    maxHeadAgeMs: ms.default(DEFAULT_READINESS.maxHeadAgeMs).describe('a configured chain with no new head for longer (ms) makes `/readyz` answer 503 (`chain-stalled`)'),
  })
  .strict();

const T = TRACING_DEFAULTS;
/** `[engine.tracing]`: OpenTelemetry spans over OTLP/HTTP (docs/tracing.md). */
export const TracingSchema = z
  .object({
    enabled: z.boolean().default(T.enabled).describe('export spans of steps, invocations, host calls, jobs, timers and cron ticks (off: no OpenTelemetry call is made at all)'),
    endpoint: z
      .string()
      .regex(/^https?:\/\/[^\s/]+/i, 'an http:// or https:// URL')
      .default(T.endpoint)
      .describe("the OTLP/HTTP traces endpoint (JSON), e.g. an OpenTelemetry Collector's `/v1/traces`"),
    serviceName: z.string().min(1).default(T.serviceName).describe('`service.name` of the spans'),
    sampleRatio: z.number().min(0).max(1).default(T.sampleRatio).describe('share of traces kept, 0 to 1 (by trace id: a root decides for its children, a publisher\'s sampled flag decides for the steps it parents)'),
    headersEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
      .optional()
      .describe('name of an environment variable holding `key=value,…` headers sent with every export (an API key stays out of the file)'),
    hostCalls: z.boolean().default(T.hostCalls).describe('a `corral.host` span per host call (a step calling the chain a thousand times makes a thousand)'),
    exportTimeoutMs: z.number().int().min(1).max(MAX_TIMER_DELAY_MS).default(T.exportTimeoutMs).describe('the longest one export, and the flush when the engine stops, wait for the collector (ms); then the unsent spans are dropped with a warning and the stop goes on'),
  })
  .strict();

const Q = DEFAULT_QUERY;
/** `[engine.query]`: the runtime that answers modules' `query` export, and the widest limits a module's `[modules.query]` may ask for. */
export const QuerySchema = z
  .object({
    threads: z.number().int().min(1).max(MAX_THREADS).default(Q.threads).describe('worker threads of the query runtime (started at the first query), apart from those events run on'),
    maxInstances: positiveInt.default(Q.maxInstances).describe('idle query instances kept across all modules; past it the one idle longest is recycled'),
    maxConcurrent: positiveInt.max(1_024).default(Q.maxConcurrent).describe('queries running at once across all modules; one more waits `checkout_timeout_ms`, then is refused (`busy`, HTTP 503)'),
    checkoutTimeoutMs: z.number().int().min(0).max(MAX_TIMER_DELAY_MS).default(Q.checkoutTimeoutMs).describe('how long a query waits for a running slot (ms)'),
    fuel: positiveInt.default(Q.fuel).describe('fuel per query, and the most a module may ask for; then `OutOfFuel`'),
    timeoutMs: z.number().positive().max(MAX_TIMER_DELAY_MS).default(Q.timeoutMs).describe('deadline per query, and the longest a module may ask for (ms); then `ExecutionTimeout` (HTTP 504)'),
    memoryBytes: positiveInt.max(4 * 1024 ** 3).default(Q.memoryBytes).describe('memory cap of a query instance, and the largest a module may ask for (bytes)'),
    maxIdleMs: z.number().int().min(0).max(MAX_TIMER_DELAY_MS).default(Q.maxIdleMs).describe('a query instance idle this long is dropped; the next query builds a fresh one (ms)'),
    maxResultBytes: positiveInt.default(Q.maxResultBytes).describe('bytes of one answer; a longer one is refused (`too-large`, HTTP 502)'),
  })
  .strict();

const A = DEFAULT_API;
/** `[engine.api]`: the live read API, served on the `engine.metrics` listener (docs/read-api.md). */
export const ApiSchema = z
  .object({
    enabled: z.boolean().default(false).describe('serve the read API under `/v1` on the `engine.metrics` listener (needs `engine.metrics`); off: `/v1` answers 404'),
    tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').default(A.tokenEnv).describe('the environment variable holding the bearer token every `/v1` request must carry (the engine does not start while it is empty and the API enabled)'),
    allowRemote: z.boolean().default(false).describe('answer peers other than loopback (otherwise 403); `/metrics`, `/healthz` and `/readyz` stay open either way'),
    pageLimit: positiveInt.default(A.pageLimit).describe('entries per page when a request names no `limit`'),
    maxPageLimit: positiveInt.default(A.maxPageLimit).describe('the largest `limit` a request may ask (larger: 400)'),
    maxPageBytes: positiveInt.default(A.maxPageBytes).describe('key and value bytes per page; the page ends there with `next` (bytes)'),
    maxConcurrent: positiveInt.max(64).default(A.maxConcurrent).describe('requests served at once, each reading one store snapshot (on LevelDB, on the API\'s read thread); past it 503 with `Retry-After`'),
  })
  .strict()
  .refine((api) => api.pageLimit <= api.maxPageLimit, { message: 'page_limit is at most max_page_limit', path: ['pageLimit'] });

/** `[engine]` in engine.toml. */
export const EngineSectionSchema = z
  .object({
    stateDir: z.string().min(1).default('./state').describe("the LevelDB directory of every module's state, cursors and undo records (relative to the file)"),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('pino level of the JSON log lines; `debug` adds one per committed chain step'),
    threads: z.number().int().min(1).max(MAX_THREADS).optional().describe("worker threads that run guests (default: the machine's available parallelism)"),
    metrics: z
      .string()
      .regex(/^([^\s:]+|\[[0-9a-fA-F:.]+\]):([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$/, 'host:port (IPv6 in brackets), port at most 65535')
      .optional()
      .describe('`host:port` serving /metrics, /healthz and /readyz (none when absent)'),
    shutdownTimeoutMs: ms.default(DEFAULT_SUPERVISION.shutdownTimeoutMs).describe('how long a stop lets in-flight events finish before they are cancelled (ms)'),
    graceMs: ms.default(DEFAULT_GRACE_MS).describe('after a missed deadline, how long a guest that does not come back (stuck in a host call) keeps its worker before the thread is terminated (ms)'),
    hostCallBufferBytes: positiveInt.min(MIN_HOST_CALL_BUFFER_BYTES).max(MAX_HOST_CALL_BUFFER_BYTES).default(DEFAULT_HOST_CALL_BUFFER_BYTES).describe("bytes of one host call's arguments or result; a larger one ends the event in a `Trap` (`host-error`)"),
    idleInstances: positiveInt.default(DEFAULT_IDLE_INSTANCES).describe("idle instances kept across all components, split between the worker threads; past a thread's share the one idle longest is recycled (raise it for thousands of busy modules: each wasm memory reserves 10 GiB of address space, and a process holds ~12,800 memories; a QuickJS instance has three)"),
    cacheDir: z.string().min(1).optional().describe('where prepared components are cached (default: `$CORRAL_CACHE_DIR`, else `$XDG_CACHE_HOME/corral` or `~/.cache/corral`)'),
    pool: PoolSchema.default(PoolSchema.parse({})).describe('see `[engine.pool]`'),
    limits: EngineLimitsSchema.default(EngineLimitsSchema.parse({})).describe('see `[engine.limits]`'),
    jobs: JobLimitsSchema.default(JobLimitsSchema.parse({})).describe('see `[engine.jobs]`'),
    readiness: ReadinessSchema.default(ReadinessSchema.parse({})).describe('see `[engine.readiness]`'),
    tracing: TracingSchema.default(TracingSchema.parse({})).describe('see `[engine.tracing]`'),
    query: QuerySchema.default(QuerySchema.parse({})).describe('see `[engine.query]`'),
    api: ApiSchema.default(ApiSchema.parse({})).describe('see `[engine.api]`'),
    rpcCache: RpcCacheSchema.default(RpcCacheSchema.parse({})).describe('see `[engine.rpc_cache]`'),
  })
  .strict()
  .refine((engine) => !engine.api.enabled || engine.metrics !== undefined, { message: 'engine.metrics (host:port): the read API is served on the metrics listener', path: ['api', 'enabled'] });

/** A PostgreSQL connection URL (`${DATABASE_URL}` in engine.toml keeps its password out of the file). */
const PostgresUrl = z.string().regex(/^postgres(ql)?:\/\/\S+$/i, 'a postgres:// or postgresql:// URL');
const PG = DEFAULT_POSTGRES;

/** `[store]` in engine.toml: where every module's state lives; PostgreSQL shares the modules between replicas. */
export const StoreSectionSchema = z
  .object({
    backend: z.enum(['level', 'postgres']).default('level').describe('`"level"`: LevelDB in `engine.state_dir`, one engine; `"postgres"`: PostgreSQL at `url`, shared by replicas (each module owned by one of them at a time, under a lease)'),
    url: PostgresUrl.optional().describe('`postgres://user:password@host:port/database` (required with `backend = "postgres"`; write `"${DATABASE_URL}"` to keep the password out of the file)'),
    leaseUrl: PostgresUrl.optional().describe('a direct URL for the lease connection when `url` goes through a pooler such as PgBouncer in transaction mode (session locks and LISTEN need a session of their own)'),
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier').default(PG.schema).describe("schema of corral's tables (created and migrated at start)"),
    pool: positiveInt.max(1_000).default(PG.pool).describe('pooled connections per replica for commits and reads (the lease connection is one more)'),
    leaseMs: ms.min(2 * LEASE_SELF_FENCE_MS).default(PG.leaseMs).describe("lease period (ms): a replica silent this long loses its modules, which other replicas take over with a new epoch; it stops committing by itself a second before"),
    replica: z.string().min(1).max(63).optional().describe("this replica's name in status and metrics (default: the host name)"),
    cacheBytes: positiveInt.default(PG.cacheBytes).describe("memory for the cached state of this replica's modules (bytes); past it the replica acquires no more and another one takes them"),
    joinDelayMs: z.number().int().min(0).max(MAX_TIMER_DELAY_MS).default(PG.joinDelayMs).describe('a replica that joined takes modules over from others only after this long (ms), so a rolling deploy does not move modules twice'),
    minHoldMs: z.number().int().min(0).max(MAX_TIMER_DELAY_MS).default(PG.minHoldMs).describe('a module acquired less than this long ago is not handed over to another replica (ms)'),
  })
  .strict()
  .superRefine((store, ctx) => {
    if (store.backend === 'postgres' && store.url === undefined) ctx.addIssue({ code: 'custom', message: 'a postgres:// URL: backend = "postgres" needs one', path: ['url'] });
    if (store.backend === 'level') {
      for (const key of ['url', 'leaseUrl'] as const) {
        if (store[key] !== undefined) ctx.addIssue({ code: 'custom', message: 'no URL: it applies to backend = "postgres" only (LevelDB lives in engine.state_dir)', path: [key] });
      }
    }
  });

/**
 * The whole configuration: engine.toml after its keys are turned from snake_case to camelCase, or the
 * object an embedder passes. It is the one validation of these settings: the parts below take them
 * resolved. Every default it fills is a constant of src/limits/.
 */
export const EngineConfigSchema = z
  .object({
    engine: EngineSectionSchema.default(EngineSectionSchema.parse({})),
    store: StoreSectionSchema.default(StoreSectionSchema.parse({})),
    chains: z.record(z.string().regex(/^[1-9][0-9]*$/, 'a chain id (a positive integer)'), ChainConfigSchema).default({}),
    modules: z.array(ModuleManifestSchema).default([]),
  })
  .strict();

export type EngineConfig = z.input<typeof EngineConfigSchema>;
export type ResolvedEngineConfig = z.output<typeof EngineConfigSchema>;

/** `[engine.jobs]` as the engine takes it: the standard job limits and the high-resource ones. */
export function jobLimitsOf(jobs: z.output<typeof JobLimitsSchema>) {
  return {
    standard: { fuel: jobs.fuel, timeoutMs: jobs.timeoutMs, memoryBytes: jobs.memoryBytes },
    highResource: { fuel: jobs.maxFuel, timeoutMs: jobs.maxTimeoutMs, memoryBytes: jobs.maxMemoryBytes },
  };
}

/** `[store]` as `Engine.start` takes it: undefined for LevelDB (the engine's `state_dir`). */
export function storeOf(store: z.output<typeof StoreSectionSchema>) {
  if (store.backend === 'level') return undefined;
  const { url, leaseUrl, schema, pool, leaseMs, replica, cacheBytes, joinDelayMs, minHoldMs } = store;
  return {
    backend: 'postgres' as const,
    url: url!,
    schema,
    pool,
    leaseMs,
    cacheBytes,
    ...(leaseUrl ? { leaseUrl } : {}),
    ...(replica ? { replica } : {}),
    placement: { joinDelayMs, minHoldMs },
  };
}
