import * as defaults from './defaults.ts';
import { DEFAULT_HOST_CAPS } from './hostCaps.ts';

/** What a default counts, which decides how its value is printed. */
export type LimitUnit = 'fuel' | 'ms' | 'ns' | 'bytes' | 'blocks' | 'count' | 'ratio' | 'factor' | 'shift' | 'epoch-ms' | 'seed' | 'policy';

/** One row of the Limits reference: a default of src/limits/, what trips it, and where it is set. */
export interface LimitEntry {
  /** The constant, or a field of one (`DEFAULT_POOL.maxInstances`, `DEFAULT_HOST_CAPS.storeOps`). */
  name: string;
  unit: LimitUnit;
  /** What it bounds, and what happens past it. */
  trips: string;
  /** engine.toml keys that set it, dotted and snake_case (`engine.limits.fuel`, `chains.<id>.reconnect.max_ms`, `modules.limits.fuel`). */
  toml?: readonly string[];
  /** Where an embedder of the runtime or the engine sets it besides engine.toml. */
  api?: string;
}

/**
 * Every default of src/limits/, by section, in the order the reference prints them. A test checks
 * that each constant (and each field of a constant that is an object) has its row, and that each
 * engine.toml key named here is one the schema knows.
 */
export const LIMITS: readonly { section: string; entries: readonly LimitEntry[] }[] = [
  {
    section: 'Invocations',
    entries: [
      { name: 'DEFAULT_FUEL', unit: 'fuel', trips: 'work per event (charged per function entry and loop iteration by the instructions of the block); then `OutOfFuel` and the instance is discarded', toml: ['engine.limits.fuel', 'modules.limits.fuel'], api: '`load(…, { limits: { fuel } })`, `invoke(…, { fuel })`' },
      { name: 'DEFAULT_TIMEOUT_MS', unit: 'ms', trips: "wall-clock deadline per event from the guest's start, checked at each fuel slice; then `ExecutionTimeout`, the worker lives on", toml: ['engine.limits.timeout_ms', 'modules.limits.timeout_ms'], api: '`load(…, { limits: { timeoutMs } })`, `invoke(…, { timeoutMs })`' },
      { name: 'DEFAULT_GRACE_MS', unit: 'ms', trips: 'after a missed deadline, how long a guest that does not come back keeps its worker; then the thread is terminated (`ExecutionTimeout`, `terminated: true`)', toml: ['engine.grace_ms'], api: '`new Runtime({ graceMs })`' },
      { name: 'DEFAULT_MEMORY_BYTES', unit: 'bytes', trips: "linear memory of a component instance (all its memories); `memory.grow` past it returns -1, a larger initial memory is refused (`MemoryLimitExceeded`); tables get a budget of the same size", toml: ['engine.limits.memory_bytes', 'modules.limits.memory_bytes'], api: '`load(…, { limits: { memoryBytes } })`' },
      { name: 'FUEL_SLICE', unit: 'fuel', trips: 'fuel handed to a running guest at a time, at first: the deadline and cancellation are checked between slices' },
      { name: 'FUEL_SLICE_MAX', unit: 'fuel', trips: 'the largest slice: slices double while they run out quickly (`FUEL_SLICE_MS`); never changes the fuel a call reports' },
      { name: 'FUEL_SLICE_MS', unit: 'ms', trips: 'a slice spent sooner than this makes the next one twice as large; one that took over 4× as long halves it (speed, not safety)' },
      { name: 'BULK_MEMORY_FUEL_SHIFT', unit: 'shift', trips: '`memory.fill`/`copy`/`init` cost one more fuel per 2^n bytes, charged before they run' },
      { name: 'TABLE_ENTRY_FUEL', unit: 'fuel', trips: 'fuel of each entry a `table.grow` adds, charged before it runs (`OutOfFuel` if it cannot pay)' },
      { name: 'TABLE_ENTRY_BYTES', unit: 'bytes', trips: 'what one table entry counts against the memory cap: tables may hold `memoryBytes / TABLE_ENTRY_BYTES` entries; `table.grow` past it returns -1 (`MemoryLimitExceeded`, `resource: table`)' },
      { name: 'WASM_PAGE_BYTES', unit: 'bytes', trips: 'the Wasm page, fixed by the spec' },
    ],
  },
  {
    section: 'Instance pool (per component)',
    entries: [
      { name: 'DEFAULT_POOL.maxInstances', unit: 'count', trips: 'calls of one component in flight at once; further calls wait for an instance', toml: ['engine.pool.max_instances'], api: '`new Runtime({ pool })`, `load(…, { pool })`' },
      { name: 'DEFAULT_POOL.maxUses', unit: 'count', trips: 'calls one instance serves; then it is recycled', toml: ['engine.pool.max_uses'], api: '`new Runtime({ pool })`, `load(…, { pool })`' },
      { name: 'DEFAULT_POOL.maxIdleMs', unit: 'ms', trips: 'an instance idle this long is reaped; the next call builds a fresh one', toml: ['engine.pool.max_idle_ms'], api: '`new Runtime({ pool })`, `load(…, { pool })`' },
      { name: 'DEFAULT_POOL.checkoutTimeoutMs', unit: 'ms', trips: 'how long a call waits for an instance; then `CheckoutTimeout`', toml: ['engine.pool.checkout_timeout_ms'], api: '`new Runtime({ pool })`, `load(…, { pool })`' },
      { name: 'DEFAULT_POOL.minInstances', unit: 'count', trips: 'instances built ahead of calls and kept', toml: ['engine.pool.min_instances'], api: '`new Runtime({ pool })`, `load(…, { pool })`' },
      { name: 'DEFAULT_IDLE_INSTANCES', unit: 'count', trips: "idle instances a runtime keeps across all components, split between its workers; past a worker's share the one idle longest is recycled (`recycled.idle`) unless its component has `minInstances` (each wasm memory reserves 10 GiB of address space: a process holds ~12,800)", toml: ['engine.idle_instances'], api: '`new Runtime({ idleInstances })`' },
    ],
  },
  {
    section: 'Threads and host calls',
    entries: [
      { name: 'MAX_THREADS', unit: 'count', trips: 'worker threads of one runtime; more is refused (`invalid-option`)', toml: ['engine.threads'], api: '`new Runtime({ threads })`' },
      { name: 'DEFAULT_HOST_CALL_BUFFER_BYTES', unit: 'bytes', trips: "a host call's arguments or result; a larger one ends the call in a `Trap` (`host-error`)", toml: ['engine.host_call_buffer_bytes'], api: '`new Runtime({ hostCallBufferBytes })`' },
      { name: 'MIN_HOST_CALL_BUFFER_BYTES', unit: 'bytes', trips: 'the smallest host-call buffer accepted (`invalid-option`)' },
      { name: 'MAX_HOST_CALL_BUFFER_BYTES', unit: 'bytes', trips: 'the largest host-call buffer accepted (two per worker thread)' },
      { name: 'SPIN_CHECKS', unit: 'count', trips: "checks a worker polls for a host call's answer before it sleeps in `Atomics.wait` (speed, not safety)" },
      { name: 'SPIN_MISSES', unit: 'count', trips: 'host calls in a row answered after the spin before a worker stops spinning for answers (speed, not safety)' },
      { name: 'SPIN_BACKOFF_MAX', unit: 'count', trips: 'most host calls a worker that stopped spinning makes before it tries a spin again (speed, not safety)' },
      { name: 'CALL_WAIT_MS', unit: 'ms', trips: 'how long a worker blocks in `Atomics.wait` for its next call before it waits in `Atomics.waitAsync` (speed, not safety)' },
      { name: 'WORKER_TURN_MS', unit: 'ms', trips: "how often a worker busy with back-to-back calls lets its event loop turn (its reaper's timers) (speed, not safety)" },
      { name: 'DEFAULT_CLOSE_TIMEOUT_MS', unit: 'ms', trips: '`close()` waits this long for in-flight calls; then the workers are terminated', api: '`new Runtime({ closeTimeoutMs })`' },
      { name: 'MAX_TIMER_DELAY_MS', unit: 'ms', trips: "the longest delay Node's timers take; every wait is clamped to it and every ms key of engine.toml bounded by it" },
    ],
  },
  {
    section: 'WASI',
    entries: [
      { name: 'WASI_MAX_LIVE_RESOURCES', unit: 'count', trips: 'streams, pollables and descriptors one instance holds; one more ends the call (`Trap` `host-error`, `WasiResourceLimit`) and retires the instance' },
      { name: 'DEFAULT_WASI_OUTPUT_BYTES', unit: 'bytes', trips: 'stdout and stderr kept per call; the rest is dropped and the output marked truncated', api: '`load(…, { wasi: { outputBytes } })`' },
      { name: 'WASI_MAX_CHUNK_BYTES', unit: 'bytes', trips: 'the longest single read handed back (a longer read returns this much)' },
      { name: 'WASI_MAX_OPEN_DESCRIPTORS', unit: 'count', trips: 'descriptors open at once per component per worker; one more is refused with the WASI error `quota`' },
      { name: 'WASI_MAX_RECORDED_BYTES', unit: 'bytes', trips: 'WASI answers (clocks, random) a recording keeps per call; more is refused, in the recording and its replay alike' },
      { name: 'DEFAULT_DETERMINISTIC_START_MS', unit: 'epoch-ms', trips: 'where deterministic clocks start', api: '`load(…, { wasi: { deterministic: { startMs } } })`' },
      { name: 'DEFAULT_DETERMINISTIC_STEP_NS', unit: 'ns', trips: 'how far a deterministic clock moves per read', api: '`load(…, { wasi: { deterministic: { stepNs } } })`' },
      { name: 'DEFAULT_DETERMINISTIC_SEED', unit: 'seed', trips: 'seed of deterministic random', api: '`load(…, { wasi: { deterministic: { seed } } })`, `corral call --seed`' },
    ],
  },
  {
    section: 'Files and recordings',
    entries: [
      { name: 'MAX_COMPONENT_BYTES', unit: 'bytes', trips: 'a component file; larger is a `LoadError` `too-large`' },
      { name: 'MAX_CONFIG_BYTES', unit: 'bytes', trips: 'an engine.toml; larger is a `ConfigError` `too-large`' },
      { name: 'MAX_CONFIG_DEPTH', unit: 'count', trips: 'tables nested in an engine.toml; deeper is a `ConfigError` `too-deep`' },
      { name: 'MAX_RECORDING_LINE_BYTES', unit: 'bytes', trips: 'one line of a recording; longer is a `ReplayError` `not-a-recording`' },
      { name: 'MAX_RECORDING_BYTES', unit: 'bytes', trips: 'a recording file `corral replay` reads; larger is a `ReplayError` `recording-refused`' },
    ],
  },
  {
    section: 'Chains',
    entries: [
      { name: 'CHAIN_DEFAULTS.pollIntervalMs', unit: 'ms', trips: 'head polling of an HTTP endpoint, and of the fallback', toml: ['chains.<id>.poll_interval_ms'], api: '`Engine.start({ chains })`' },
      { name: 'CHAIN_DEFAULTS.maxLogRange', unit: 'blocks', trips: 'largest `eth_getLogs` range when catching up; halved for good when the node refuses it', toml: ['chains.<id>.max_log_range'], api: '`Engine.start({ chains })`' },
      { name: 'CHAIN_DEFAULTS.reorgWindow', unit: 'blocks', trips: 'handled blocks keep undo records this deep; a deeper reorg halts the modules it reaches (`ReorgBeyondWindow`)', toml: ['chains.<id>.reorg_window'], api: '`Engine.start({ chains })`' },
      { name: 'CHAIN_DEFAULTS.confirmations', unit: 'blocks', trips: "a trigger's events wait this far below the head, for triggers that set none", toml: ['chains.<id>.confirmations'], api: '`Engine.start({ chains })`' },
      { name: 'CHAIN_DEFAULTS.reconnect.initialMs', unit: 'ms', trips: 'wait before reconnecting a dropped WebSocket; doubles per failed try', toml: ['chains.<id>.reconnect.initial_ms'], api: '`Engine.start({ chains })`' },
      { name: 'CHAIN_DEFAULTS.reconnect.maxMs', unit: 'ms', trips: 'longest wait between two reconnections', toml: ['chains.<id>.reconnect.max_ms'], api: '`Engine.start({ chains })`' },
      { name: 'CHAIN_DEFAULTS.reconnect.jitter', unit: 'ratio', trips: 'random spread of each reconnection wait', toml: ['chains.<id>.reconnect.jitter'], api: '`Engine.start({ chains })`' },
      { name: 'HEAD_PROBE_INTERVAL_MS', unit: 'ms', trips: 'a WebSocket is probed with `eth_blockNumber` this often; a failed probe reconnects it' },
      { name: 'HEAD_SUBSCRIBE_TIMEOUT_MS', unit: 'ms', trips: 'a `newHeads` subscription not answered within it counts as a lost socket' },
      { name: 'RPC_REQUEST_TIMEOUT_MS', unit: 'ms', trips: 'one of the engine\'s chain requests (HTTP or WebSocket) not answered within it fails' },
      { name: 'DEFAULT_ENGINE_RPC_RESPONSE_BYTES', unit: 'bytes', trips: "one answer to the engine's own RPC requests (HTTP or WebSocket); larger fails (`ResponseBodyTooLargeError`), a log range is fetched again in parts" },
      { name: 'RECENT_BLOCK_LOGS', unit: 'count', trips: 'per-block log answers kept for modules a little behind; older ones are fetched again' },
    ],
  },
  {
    section: 'RPC endpoint pool and response cache',
    entries: [
      { name: 'RPC_POOL_DEFAULTS.healthIntervalMs', unit: 'ms', trips: 'each endpoint of a pool (two or more `rpc_urls`) is asked `eth_blockNumber` this often, for its head and latency', toml: ['chains.<id>.pool.health_interval_ms'], api: '`Engine.start({ chains: { pool } })`' },
      { name: 'RPC_POOL_DEFAULTS.maxHeadLagBlocks', unit: 'blocks', trips: 'an endpoint further behind the highest known head is tried last for requests at `latest`', toml: ['chains.<id>.pool.max_head_lag_blocks'], api: '`Engine.start({ chains: { pool } })`' },
      { name: 'RPC_POOL_DEFAULTS.ejectAfterErrors', unit: 'count', trips: 'consecutive failures (transport, timeout, HTTP 5xx, internal error) that eject an endpoint; it is tried after all others meanwhile', toml: ['chains.<id>.pool.eject_after_errors'], api: '`Engine.start({ chains: { pool } })`' },
      { name: 'RPC_POOL_DEFAULTS.ejectMs', unit: 'ms', trips: "an ejected endpoint's first time out; doubles per further ejection", toml: ['chains.<id>.pool.eject_ms'], api: '`Engine.start({ chains: { pool } })`' },
      { name: 'RPC_POOL_MAX_EJECT_MS', unit: 'ms', trips: 'the longest an endpoint stays ejected' },
      { name: 'RPC_POOL_EWMA_WEIGHT', unit: 'ratio', trips: "weight of the newest sample in an endpoint's smoothed latency and error rate" },
      { name: 'RPC_CACHE_DEFAULTS.enabled', unit: 'policy', trips: 'module requests at a block hash are answered once per block for every module (`false`: each goes to a node)', toml: ['engine.rpc_cache.enabled'], api: '`Engine.start({ rpcCache })`' },
      { name: 'RPC_CACHE_DEFAULTS.maxBytes', unit: 'bytes', trips: 'answers (and keys) the block-pinned cache holds; past it the least recently used are forgotten', toml: ['engine.rpc_cache.max_bytes'], api: '`Engine.start({ rpcCache })`' },
    ],
  },
  {
    section: 'Readiness (`/readyz`)',
    entries: [
      { name: 'DEFAULT_READINESS.maxLagBlocks', unit: 'blocks', trips: 'a module that caught up and falls further behind a chain\'s head (less its confirmations) makes `/readyz` answer 503 (`lagging`)', toml: ['engine.readiness.max_lag_blocks'] },
      { name: 'DEFAULT_READINESS.maxHeadAgeMs', unit: 'ms', trips: 'a configured chain with no new head for longer makes `/readyz` answer 503 (`chain-stalled`)', toml: ['engine.readiness.max_head_age_ms'] },
    ],
  },
  {
    section: 'Chain feeds (per module and chain)',
    entries: [
      { name: 'CATCH_UP_STEP_EVENTS', unit: 'count', trips: 'events per catch-up step (one invocation, one commit); a block is never split' },
      { name: 'PREFETCH_RANGES', unit: 'count', trips: 'catch-up ranges fetched ahead of the one being delivered' },
      { name: 'FACTORY_ADDRESSES_PER_REQUEST', unit: 'count', trips: "a factory trigger's child addresses per `eth_getLogs`; more children are asked for in several requests, merged in log order" },
      { name: 'FEED_RETRY.initialMs', unit: 'ms', trips: 'wait after a failed step before asking again from the cursor; doubles per failure' },
      { name: 'FEED_RETRY.maxMs', unit: 'ms', trips: 'longest wait between two tries of a feed (it never gives up)' },
    ],
  },
  {
    section: 'Supervision (per module)',
    entries: [
      { name: 'DEFAULT_SUPERVISION.restart', unit: 'policy', trips: 'after a signal: `permanent` restarts always, `transient` after failures, `temporary` never', toml: ['modules.restart'], api: '`supervisor.start([{ restart }])`' },
      { name: 'DEFAULT_SUPERVISION.intensity', unit: 'count', trips: 'restarts within `periodMs`; one more opens the circuit (`ReachedMaxRestartIntensity`, `Quarantined`)', toml: ['modules.supervision.intensity'], api: '`supervisor.start([{ intensity }])`' },
      { name: 'DEFAULT_SUPERVISION.periodMs', unit: 'ms', trips: 'the window `intensity` counts restarts in', toml: ['modules.supervision.period_ms'], api: '`supervisor.start([{ periodMs }])`' },
      { name: 'DEFAULT_SUPERVISION.backoff.initialMs', unit: 'ms', trips: 'wait before the first restart', toml: ['modules.supervision.backoff_initial_ms'], api: '`supervisor.start([{ backoff }])`' },
      { name: 'DEFAULT_SUPERVISION.backoff.maxMs', unit: 'ms', trips: 'longest wait before a restart', toml: ['modules.supervision.backoff_max_ms'], api: '`supervisor.start([{ backoff }])`' },
      { name: 'DEFAULT_SUPERVISION.backoff.factor', unit: 'factor', trips: 'growth of the wait from one restart to the next', toml: ['modules.supervision.backoff_factor'], api: '`supervisor.start([{ backoff }])`' },
      { name: 'DEFAULT_SUPERVISION.backoff.jitter', unit: 'ratio', trips: 'random spread of each restart wait', toml: ['modules.supervision.backoff_jitter'], api: '`supervisor.start([{ backoff }])`' },
      { name: 'DEFAULT_SUPERVISION.breaker.cooldownMs', unit: 'ms', trips: 'an open circuit refuses events this long, then lets a probe through', toml: ['modules.supervision.breaker_cooldown_ms'], api: '`supervisor.start([{ breaker }])`' },
      { name: 'DEFAULT_SUPERVISION.breaker.factor', unit: 'factor', trips: 'growth of the cooldown after each failed probe', toml: ['modules.supervision.breaker_factor'], api: '`supervisor.start([{ breaker }])`' },
      { name: 'DEFAULT_SUPERVISION.breaker.maxCooldownMs', unit: 'ms', trips: 'longest cooldown', toml: ['modules.supervision.breaker_max_cooldown_ms'], api: '`supervisor.start([{ breaker }])`' },
      { name: 'DEFAULT_SUPERVISION.mailboxCapacity', unit: 'count', trips: 'events queued per module; then producers wait (chain feeds pause, `publish` waits)', toml: ['modules.supervision.mailbox_capacity'], api: '`supervisor.start([{ mailboxCapacity }])`' },
      { name: 'DEFAULT_SUPERVISION.overflow', unit: 'policy', trips: 'what a full mailbox does: `backpressure` (the producer waits) or, per kind, `coalesce` (the oldest gives way)', api: '`supervisor.start([{ overflow }])`' },
      { name: 'DEFAULT_SUPERVISION.shutdownTimeoutMs', unit: 'ms', trips: 'a stop lets in-flight events finish this long; then they are cancelled', toml: ['engine.shutdown_timeout_ms'], api: '`Engine.start({ shutdownTimeoutMs })`' },
    ],
  },
  {
    section: 'Jobs',
    entries: [
      { name: 'DEFAULT_JOB_LIMITS.fuel', unit: 'fuel', trips: 'fuel per job; then `OutOfFuel` and a retry', toml: ['engine.jobs.fuel'], api: '`Engine.start({ jobLimits })`' },
      { name: 'DEFAULT_JOB_LIMITS.timeoutMs', unit: 'ms', trips: 'deadline per job; then `ExecutionTimeout` and a retry', toml: ['engine.jobs.timeout_ms'], api: '`Engine.start({ jobLimits })`' },
      { name: 'DEFAULT_JOB_LIMITS.memoryBytes', unit: 'bytes', trips: "memory cap of a job's instance", toml: ['engine.jobs.memory_bytes'], api: '`Engine.start({ jobLimits })`' },
      { name: 'HIGH_RESOURCE_JOB_LIMITS.fuel', unit: 'fuel', trips: 'fuel per job of a module granted `high_resource_jobs`; also the most a replay grants', toml: ['engine.jobs.max_fuel'], api: '`Engine.start({ jobLimits })`' },
      { name: 'HIGH_RESOURCE_JOB_LIMITS.timeoutMs', unit: 'ms', trips: 'deadline per job of a module granted `high_resource_jobs`; also the longest a replay grants', toml: ['engine.jobs.max_timeout_ms'], api: '`Engine.start({ jobLimits })`' },
      { name: 'HIGH_RESOURCE_JOB_LIMITS.memoryBytes', unit: 'bytes', trips: 'memory cap of a module granted `high_resource_jobs`; also the most a replay grants', toml: ['engine.jobs.max_memory_bytes'], api: '`Engine.start({ jobLimits })`' },
      { name: 'DEFAULT_JOBS.concurrency', unit: 'count', trips: "jobs of one module running at once, beside its events", toml: ['modules.jobs.concurrency'] },
      { name: 'DEFAULT_JOBS.ratePerMinute', unit: 'count', trips: 'enqueues per minute (a burst of this many, then one every 60/n s); past it `limit("rate")`', toml: ['modules.jobs.rate_per_minute'] },
      { name: 'DEFAULT_JOBS.retry', unit: 'count', trips: 'retries of a failed task that sets no `max-retry`; then it is dead-lettered', toml: ['modules.jobs.retry'] },
      { name: 'DEFAULT_JOBS.maxRetry', unit: 'count', trips: 'the most retries a task may ask for (more is cut to this)', toml: ['modules.jobs.max_retry'] },
      { name: 'JOB_RETRY.initialMs', unit: 'ms', trips: 'wait before a failed task runs again; doubles per failure' },
      { name: 'JOB_RETRY.maxMs', unit: 'ms', trips: 'longest wait between two runs of a failing task' },
      { name: 'JOB_CONFLICT_RETRIES', unit: 'count', trips: "conflicting commits a job's run may meet; then it counts as a failure" },
      { name: 'DEFAULT_JOB_ERROR_BYTES', unit: 'bytes', trips: "a failed job's error text kept and logged; longer is cut, saying how much" },
      { name: 'DEFAULT_DEAD_LETTERS.maxCount', unit: 'count', trips: 'dead letters a module keeps; past it the oldest is deleted', toml: ['engine.jobs.dead_letter_max'], api: '`Engine.start({ deadLetters })`' },
      { name: 'DEFAULT_DEAD_LETTERS.maxAgeMs', unit: 'ms', trips: 'age past which a dead letter is deleted (at start and hourly)', toml: ['engine.jobs.dead_letter_max_age_ms'], api: '`Engine.start({ deadLetters })`' },
      { name: 'MAX_PAYLOAD_BYTES', unit: 'bytes', trips: "a task's payload; larger is refused (`invalid-input`)" },
      { name: 'IDEMPOTENCY_WINDOW_MS', unit: 'ms', trips: "how long an idempotency key answers the first task's id" },
      { name: 'DEDUPE_SWEEP_MS', unit: 'ms', trips: 'how often expired deduplication records are deleted' },
    ],
  },
  {
    section: 'Module queries (`query` export)',
    entries: [
      { name: 'DEFAULT_QUERY.threads', unit: 'count', trips: 'worker threads of the query runtime (started at the first query), apart from those events use', toml: ['engine.query.threads'], api: '`Engine.start({ query })`, or `queryRuntime`' },
      { name: 'DEFAULT_QUERY.maxInstances', unit: 'count', trips: 'idle query instances kept across all modules; past it the one idle longest is recycled', toml: ['engine.query.max_instances'], api: '`Engine.start({ query })`' },
      { name: 'DEFAULT_QUERY.maxConcurrent', unit: 'count', trips: 'queries running at once across all modules; one more waits `checkout_timeout_ms`, then `busy` (HTTP 503)', toml: ['engine.query.max_concurrent'], api: '`Engine.start({ query })`' },
      { name: 'DEFAULT_QUERY.checkoutTimeoutMs', unit: 'ms', trips: 'how long a query waits for a running slot; then `busy` (HTTP 503)', toml: ['engine.query.checkout_timeout_ms'], api: '`Engine.start({ query })`' },
      { name: 'DEFAULT_QUERY.fuel', unit: 'fuel', trips: 'fuel per query; then `OutOfFuel` (HTTP 503)', toml: ['engine.query.fuel', 'modules.query.fuel'], api: '`Engine.start({ query })`' },
      { name: 'DEFAULT_QUERY.timeoutMs', unit: 'ms', trips: 'deadline per query; then `ExecutionTimeout` (HTTP 504)', toml: ['engine.query.timeout_ms', 'modules.query.timeout_ms'], api: '`Engine.start({ query })`' },
      { name: 'DEFAULT_QUERY.memoryBytes', unit: 'bytes', trips: "memory cap of a query instance (`MemoryLimitExceeded`)", toml: ['engine.query.memory_bytes', 'modules.query.memory_bytes'], api: '`Engine.start({ query })`' },
      { name: 'DEFAULT_QUERY.maxIdleMs', unit: 'ms', trips: 'a query instance idle this long is dropped; the next query builds a fresh one', toml: ['engine.query.max_idle_ms'], api: '`Engine.start({ query })`' },
      { name: 'DEFAULT_QUERY.maxResultBytes', unit: 'bytes', trips: 'bytes of one answer; a longer one is refused (`too-large`, HTTP 502)', toml: ['engine.query.max_result_bytes'], api: '`Engine.start({ query })`' },
    ],
  },
  {
    section: 'Shadow runs (`[modules.shadow]`)',
    entries: [
      { name: 'DEFAULT_SHADOW.queueSteps', unit: 'count', trips: 'live steps waiting for the candidate (each holding the state it started from); one more is not shadowed and counts as `skipped`' },
      { name: 'DEFAULT_SHADOW.threads', unit: 'count', trips: 'worker threads of the runtime every candidate of the engine runs on' },
      { name: 'DEFAULT_SHADOW.priority', unit: 'policy', trips: "that runtime's scheduling priority (`lowest`: nice 19 on Linux; measured worse for the live module under load)" },
      { name: 'DEFAULT_SHADOW.heldCommits', unit: 'count', trips: "the module's commits whose pre-images queued steps hold; past it the oldest queued step is dropped and counts as `skipped`" },
      { name: 'DEFAULT_SHADOW.heldBytes', unit: 'bytes', trips: 'bytes of those pre-images; past it the oldest queued step is dropped and counts as `skipped`' },
      { name: 'DEFAULT_SHADOW.keepDifferences', unit: 'count', trips: 'steps with differences kept for `engine.shadowReport` and `corral inspect`; later ones are only counted' },
      { name: 'DEFAULT_SHADOW.fuelTolerance', unit: 'ratio', trips: "a candidate's fuel within this share of the live step's is not a difference", toml: ['modules.shadow.fuel_tolerance'] },
      { name: 'DEFAULT_SHADOW.valueChars', unit: 'count', trips: 'characters of each value a kept difference shows; longer is cut' },
    ],
  },
  {
    section: 'Messages between modules',
    entries: [
      { name: 'DEFAULT_MESSAGES.inbox', unit: 'count', trips: "one sender's messages a receiver has pending (sent, not yet handled); a send past it answers `limit(\"inbox-full\")`; per receiver: `inbox` of its `messages` trigger in `modules.triggers`" },
      { name: 'DEFAULT_MESSAGES.batch', unit: 'count', trips: "outbox entries a receiver's feed reads from one sender per read" },
      { name: 'DEFAULT_MESSAGES.correlationIdBytes', unit: 'bytes', trips: 'bytes of a correlation id; a longer one is `invalid-input`' },
      { name: 'DEFAULT_MESSAGES.trimEvery', unit: 'count', trips: "handled outbox entries to one receiver (or its `inbox`, if smaller) that gather before the sender's outbox is trimmed of them by a commit of its own; entries of blocks in the reorg window stay until they leave it" },
      { name: 'DEFAULT_MESSAGES.retry', unit: 'count', trips: "runs of one message after its first that ended in a signal; one more and it is dead-lettered (the receiver's cursor moves past it, the next message is delivered)" },
      { name: 'DEFAULT_MESSAGES.deadPayloadBytes', unit: 'bytes', trips: "bytes (as JSON text) of a dead letter's payload kept; a longer one is cut, with its whole length and sha256 beside" },
      { name: 'DEFAULT_MESSAGES.deadErrorBytes', unit: 'bytes', trips: "bytes (as JSON text) of a dead letter's last error kept; a longer one is cut" },
      { name: 'DEFAULT_MESSAGES.deadRecordBytes', unit: 'bytes', trips: 'the most one dead letter of a message takes; a receiver keeps at most a tenth of its `storedBytes` in them (at least one, at most DEFAULT_DEAD_LETTERS.maxCount)' },
    ],
  },
  {
    section: 'Trigger addresses added at run time',
    entries: [
      { name: 'DEFAULT_TRIGGER_ADDRESSES.perStep', unit: 'count', trips: 'addresses one step adds to named log triggers; past it `add-address` answers `limit("trigger-addresses-per-step")`' },
      { name: 'DEFAULT_TRIGGER_ADDRESSES.total', unit: 'count', trips: 'addresses one named log trigger has added; past it `add-address` answers `limit("trigger-addresses")`' },
    ],
  },
  {
    section: 'Timers (per module)',
    entries: [
      { name: 'DEFAULT_MAX_PENDING_TIMERS', unit: 'count', trips: 'timers set and not yet fired; a new tag past it answers `limit("pending-timers")`' },
      { name: 'DEFAULT_TIMER_WINDOW', unit: 'count', trips: 'timers of each kind held in memory; the rest stay in LevelDB, read in due order' },
      { name: 'TIMERS_IN_FLIGHT', unit: 'count', trips: 'timer events delivered and not yet handled; due timers past it fire as these end' },
      { name: 'TIMER_RETRY.initialMs', unit: 'ms', trips: 'wait before a timer whose event was not handled fires again; doubles per failure' },
      { name: 'TIMER_RETRY.maxMs', unit: 'ms', trips: 'longest wait between two deliveries of a timer (it is never dropped)' },
      { name: 'MAX_TIMER_TAG_BYTES', unit: 'bytes', trips: "a timer's tag; longer (or empty) is refused (`invalid-input`)" },
    ],
  },
  {
    section: 'Store',
    entries: [
      { name: 'MAX_KEY_BYTES', unit: 'bytes', trips: 'a store key; longer is refused (`invalid-input`)' },
      { name: 'MAX_LIST_KEYS', unit: 'count', trips: 'keys one `list-keys` page returns, whatever the guest asks' },
      { name: 'MODULE_LOAD_CONCURRENCY', unit: 'count', trips: "modules an engine loads at once when it starts (reading state and cursors, checking the component); more wait their turn (speed, not safety)" },
    ],
  },
  {
    section: 'PostgreSQL store (replicas)',
    entries: [
      { name: 'DEFAULT_POSTGRES.schema', unit: 'policy', trips: "schema of corral's tables in the database", toml: ['store.schema'], api: '`Engine.start({ store: { schema } })`' },
      { name: 'DEFAULT_POSTGRES.pool', unit: 'count', trips: 'pooled connections per replica for commits and reads (the lease connection is one more)', toml: ['store.pool'], api: '`Engine.start({ store: { pool } })`' },
      { name: 'DEFAULT_POSTGRES.leaseMs', unit: 'ms', trips: "lease period: a silent replica loses its session (`idle_session_timeout`) and with it its modules within it; another replica takes them over with a new epoch", toml: ['store.lease_ms'], api: '`Engine.start({ store: { leaseMs } })`' },
      { name: 'DEFAULT_POSTGRES.heartbeatsPerLease', unit: 'count', trips: 'heartbeats on the lease connection per lease period' },
      { name: 'DEFAULT_POSTGRES.joinDelayMs', unit: 'ms', trips: 'a replica that joined counts for placement only after this long', toml: ['store.join_delay_ms'], api: '`Engine.start({ store: { placement: { joinDelayMs } } })`' },
      { name: 'DEFAULT_POSTGRES.minHoldMs', unit: 'ms', trips: 'a module acquired less than this long ago is not handed over to another replica (hysteresis)', toml: ['store.min_hold_ms'], api: '`Engine.start({ store: { placement: { minHoldMs } } })`' },
      { name: 'DEFAULT_POSTGRES.maxMovesPerRound', unit: 'count', trips: 'handovers a replica starts per placement round', api: '`Engine.start({ store: { placement: { maxMovesPerRound } } })`' },
      { name: 'DEFAULT_POSTGRES.reconcileMs', unit: 'ms', trips: 'placement is re-checked this often without a NOTIFY', api: '`Engine.start({ store: { placement: { reconcileMs } } })`' },
      { name: 'DEFAULT_POSTGRES.cacheBytes', unit: 'bytes', trips: "memory for the cached state of a replica's modules; past it the replica acquires no more (another replica takes them)", toml: ['store.cache_bytes'], api: '`Engine.start({ store: { cacheBytes } })`' },
      { name: 'DEFAULT_POSTGRES.reconnect.initialMs', unit: 'ms', trips: 'first retry after the lease connection failed' },
      { name: 'DEFAULT_POSTGRES.reconnect.maxMs', unit: 'ms', trips: 'cap of the retry delay after the lease connection failed' },
      { name: 'DEFAULT_POSTGRES.customBatch', unit: 'count', trips: "custom events an owned module's feed reads from the table per query (it reads on until it has them all)" },
      { name: 'LEASE_SELF_FENCE_MS', unit: 'ms', trips: 'a replica without a successful heartbeat stops committing this long before its lease would expire' },
    ],
  },
  {
    section: 'Tracing (OpenTelemetry)',
    entries: [
      { name: 'TRACING_DEFAULTS.enabled', unit: 'policy', trips: 'spans are exported over OTLP/HTTP; off, no OpenTelemetry call is made at all', toml: ['engine.tracing.enabled'], api: '`Engine.start({ tracer })`' },
      { name: 'TRACING_DEFAULTS.endpoint', unit: 'policy', trips: 'where the OTLP/HTTP exporter posts spans', toml: ['engine.tracing.endpoint'] },
      { name: 'TRACING_DEFAULTS.serviceName', unit: 'policy', trips: "the `service.name` of the engine's spans", toml: ['engine.tracing.service_name'] },
      { name: 'TRACING_DEFAULTS.sampleRatio', unit: 'ratio', trips: 'share of traces kept (by trace id; a root decides for its children)', toml: ['engine.tracing.sample_ratio'] },
      { name: 'TRACING_DEFAULTS.exportTimeoutMs', unit: 'ms', trips: 'one OTLP export, and the flush at stop, give up on a collector that does not answer; the spans still unsent are dropped with a warning and the stop goes on', toml: ['engine.tracing.export_timeout_ms'] },
      { name: 'TRACING_DEFAULTS.hostCalls', unit: 'policy', trips: 'a `corral.host` span per host call (a TWAP step makes ~1,000)', toml: ['engine.tracing.host_calls'], api: '`Engine.start({ traceHostCalls })`' },
    ],
  },
  {
    section: '`corral batch`',
    entries: [
      { name: 'BATCH_DEFAULTS.inFlightPerThread', unit: 'count', trips: 'calls in flight per worker thread; further inputs wait for one to finish', api: '`corral batch --in-flight` (the total), `runBatch(…, { inFlight })`' },
      { name: 'BATCH_DEFAULTS.reorderMax', unit: 'count', trips: 'finished results held until the inputs before them finish; at this many no further input starts', api: '`runBatch(…, { reorderMax })`' },
      { name: 'BATCH_DEFAULTS.writeChunkBytes', unit: 'bytes', trips: 'output written at once; a kill loses at most the unwritten lines, whose inputs run again on `--resume`' },
      { name: 'BATCH_DEFAULTS.flushMs', unit: 'ms', trips: 'the longest a finished line waits before it is written; the progress bar redraws at most this often' },
    ],
  },
  {
    section: 'Hot swaps (`engine.replace`, `corral dev`)',
    entries: [
      { name: 'DEFAULT_REPLACE_PROBATION_INVOCATIONS', unit: 'count', trips: "a new version's first invocations; a signal among them swaps the previous version back (the chain steps, timers and ticks it failed run there, its failed custom events are delivered there again); past them a signal is the supervisor's", api: '`engine.replace(manifest, { probationInvocations })`' },
      { name: 'DEV_DEBOUNCE_MS', unit: 'ms', trips: '`corral dev`: quiet after the last change to the watched sources before a build starts; a change during a build builds again after it' },
    ],
  },
  {
    section: 'Live read API (`[engine.api]`)',
    entries: [
      { name: 'DEFAULT_API.tokenEnv', unit: 'policy', trips: 'the environment variable holding the bearer token; empty while the API is enabled, the engine does not start (`ConfigError`)', toml: ['engine.api.token_env'] },
      { name: 'DEFAULT_API.pageLimit', unit: 'count', trips: 'entries per page when a request names no `limit`', toml: ['engine.api.page_limit'] },
      { name: 'DEFAULT_API.maxPageLimit', unit: 'count', trips: 'the largest `limit` a request may ask; larger is refused (400)', toml: ['engine.api.max_page_limit'] },
      { name: 'DEFAULT_API.maxPageBytes', unit: 'bytes', trips: 'key and value bytes per page; the page ends there with `next` (a single larger value is cut, `truncated: true`)', toml: ['engine.api.max_page_bytes'] },
      { name: 'DEFAULT_API.maxConcurrent', unit: 'count', trips: 'API requests served at once (each holds a store snapshot and libuv reads); past it 503 with `Retry-After`', toml: ['engine.api.max_concurrent'] },
      { name: 'DEFAULT_API.retryAfterS', unit: 'count', trips: 'seconds in the `Retry-After` of a request refused for load' },
      { name: 'READ_THREAD_START_MS', unit: 'ms', trips: "the read API thread's start and LevelDB open; past it the thread is ended, the reads waiting for it are answered 500, and the next request starts a new one" },
      { name: 'DEFAULT_API.deadlineMs', unit: 'ms', trips: 'how long a request may wait for its read; past it 503 `timeout` with `Retry-After`, and the read thread (stuck) is ended and started afresh' },
    ],
  },
  {
    section: 'Host calls per invocation (`HostLimitExceeded` past each: the invocation ends as a trap would, its writes dropped)',
    entries: [
      { name: 'DEFAULT_HOST_CAPS.chainRequests', unit: 'count', trips: '`chain.request` calls', toml: ['engine.limits.chain_requests', 'modules.caps.chain_requests'] },
      { name: 'DEFAULT_HOST_CAPS.rpcResponseBytes', unit: 'bytes', trips: 'one RPC response', toml: ['engine.limits.rpc_response_bytes', 'modules.caps.rpc_response_bytes'] },
      { name: 'DEFAULT_HOST_CAPS.httpFetches', unit: 'count', trips: '`http.fetch` and `cow-api` calls', toml: ['engine.limits.http_fetches', 'modules.caps.http_fetches'] },
      { name: 'DEFAULT_HOST_CAPS.httpResponseBytes', unit: 'bytes', trips: 'one HTTP response body', toml: ['engine.limits.http_response_bytes', 'modules.caps.http_response_bytes'] },
      { name: 'DEFAULT_HOST_CAPS.httpRequestBytes', unit: 'bytes', trips: 'one HTTP request body', toml: ['engine.limits.http_request_bytes', 'modules.caps.http_request_bytes'] },
      { name: 'DEFAULT_HOST_CAPS.httpTimeoutMs', unit: 'ms', trips: 'one HTTP request, sending to the last byte (an `upstream` fault after it, not a cap signal)', toml: ['engine.limits.http_timeout_ms', 'modules.caps.http_timeout_ms'] },
      { name: 'DEFAULT_HOST_CAPS.storeOps', unit: 'count', trips: 'store get/set/delete/list-keys calls', toml: ['engine.limits.store_ops', 'modules.caps.store_ops'] },
      { name: 'DEFAULT_HOST_CAPS.storeBytesWritten', unit: 'bytes', trips: 'key + value bytes `store.set` writes', toml: ['engine.limits.store_bytes_written', 'modules.caps.store_bytes_written'] },
      { name: 'DEFAULT_HOST_CAPS.logRecords', unit: 'count', trips: '`logging.log` records', toml: ['engine.limits.log_records', 'modules.caps.log_records'] },
      { name: 'DEFAULT_HOST_CAPS.logBytes', unit: 'bytes', trips: 'message + fields bytes logged', toml: ['engine.limits.log_bytes', 'modules.caps.log_bytes'] },
      { name: 'DEFAULT_HOST_CAPS.storedBytes', unit: 'bytes', trips: 'key + value bytes a module keeps in all (checked at commit, not per invocation)', toml: ['engine.limits.stored_bytes', 'modules.caps.stored_bytes'] },
      { name: 'DEFAULT_HOST_CAPS.messagesSent', unit: 'count', trips: '`messages.send` calls', toml: ['engine.limits.messages_sent', 'modules.caps.messages_sent'] },
      { name: 'DEFAULT_HOST_CAPS.messageBytes', unit: 'bytes', trips: 'payload + correlation id bytes of the messages sent', toml: ['engine.limits.message_bytes', 'modules.caps.message_bytes'] },
    ],
  },
];

/** The value of a catalogued name (`DEFAULT_POOL.maxInstances`) in src/limits/, or undefined. */
export function limitValue(name: string): unknown {
  const [head, ...path] = name.split('.');
  let value: unknown = head === 'DEFAULT_HOST_CAPS' ? DEFAULT_HOST_CAPS : (defaults as Record<string, unknown>)[head!];
  for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

/** `1_048_576`, as TOML and TypeScript spell it. */
const grouped = (n: number | bigint) => n.toLocaleString('en').replace(/,/g, '_');

const n = (value: number) => `\`${grouped(value)}\``;

function shownBytes(n: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  return `${grouped(n)} bytes`;
}

function shownMs(n: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1_000]] as const) if (n >= size && n % size === 0) return `${grouped(n)} ms (${n / size} ${unit})`;
  return `${grouped(n)} ms`;
}

/** A value as the reference prints it: its unit made readable, the exact number beside it where they differ. */
export function shownLimit(value: unknown, unit: LimitUnit): string {
  if (typeof value === 'string') return `\`${value}\``;
  if (typeof value === 'boolean') return `\`${value}\``;
  if (typeof value === 'bigint') return `\`${grouped(value)}\``;
  if (typeof value !== 'number') throw new TypeError(`a limit is a number, a bigint, a string or a boolean, got ${typeof value}`);
  switch (unit) {
    case 'bytes': {
      const readable = shownBytes(value);
      return readable.endsWith(' bytes') ? readable : `${readable} (\`${grouped(value)}\`)`;
    }
    case 'ms':
      return shownMs(value);
    case 'ns':
      return `${grouped(value)} ns`;
    case 'epoch-ms':
      return `${new Date(value).toISOString()} (\`${grouped(value)}\`)`;
    case 'shift':
      return `2^${value} (${2 ** value})`;
    case 'blocks':
      return `${grouped(value)} blocks`;
    case 'fuel':
    case 'count':
    case 'ratio':
    case 'factor':
    case 'seed':
    case 'policy':
      return n(value);
  }
}

/**
 * docs/reference/limits.md, rendered from LIMITS and the values in src/limits/: `npm run docs` writes
 * it, and a test fails when the page and this rendering differ.
 */
export function renderLimitsReference(): string {
  const sections = LIMITS.map(({ section, entries }) => {
    const rows = entries.map((e) => {
      const where = [...(e.toml ?? []).map((key) => `\`${key}\``), ...(e.api ? [e.api] : [])].join('; ') || 'fixed';
      return `| \`${e.name}\` | ${shownLimit(limitValue(e.name), e.unit)} | ${e.trips} | ${where} |`;
    });
    return [`## ${section}`, '', '| default | value | what it bounds, and what happens past it | set in |', '| --- | --- | --- | --- |', ...rows].join('\n');
  });
  return [
    '# Limits reference',
    '',
    '<!-- Generated by `npm run docs` from src/limits/ (src/limits/limitsReference.ts): edit there, not here. A test fails when this page is stale. -->',
    '',
    "Every default of corral, its value, what it bounds and what happens when it trips, and where it can be set: a key of engine.toml (dotted, as in [the engine.toml reference](engine-toml.md); `modules.*` keys are set per module, and its `limits` and `caps` may only narrow the engine's), an option of the embedding API, or nowhere (fixed). The constants live in `src/limits/defaults.ts` and `src/limits/hostCaps.ts`, each documented where it is defined.",
    '',
    ...sections.flatMap((s) => [s, '']),
  ].join('\n');
}
