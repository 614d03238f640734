/**
 * Every tunable default of corral, in one place and as plain data: the runtime's limits, the engine's
 * chains, feeds, supervision, jobs and timers. Each says what it limits and what happens when it
 * trips. The Limits reference (docs/reference/limits.md) is generated from these numbers
 * (src/limits/limitsReference.ts); change them here only. engine.toml's schema (src/config/) takes
 * its defaults from here too.
 */

/**
 * The longest delay Node's timers take, 2³¹ − 1 ms (~24.8 days): a longer one fires at once. Every
 * wait corral schedules is clamped to it, and every millisecond setting of engine.toml is bounded by it.
 */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * Fuel per invocation. Fuel is charged at every function entry and loop iteration by the number of
 * instructions the block holds, so it measures work, not time. When it runs out the call ends with
 * `OutOfFuel { fuelLimit, fuelUsed }` and the instance is discarded.
 */
export const DEFAULT_FUEL = 50_000_000;

/**
 * Wall-clock deadline per invocation, in milliseconds, counted from the moment the guest starts
 * (queueing before that is not counted). Checked cooperatively each time a fuel slice runs out;
 * time spent in host calls counts. When it trips the call ends with `ExecutionTimeout` and the
 * worker thread lives on.
 */
export const DEFAULT_TIMEOUT_MS = 250;

/**
 * Grace after the deadline before the backstop terminates the worker thread (for a guest that does
 * not come back, e.g. stuck in a host call). The call still ends with `ExecutionTimeout`, with
 * `terminated: true`; a replacement worker is started.
 */
export const DEFAULT_GRACE_MS = 250;

/**
 * Cap on the linear memory of a component instance, in bytes: all the memories its core instances
 * define count together (a component may instantiate one core module many times). `memory.grow`
 * beyond it returns -1 inside the guest; if the guest then traps, the signal is `MemoryLimitExceeded`.
 * A core module whose initial memory is already larger is refused at load; core instances whose
 * initial memories add up to more are refused when the instance is built, before the one that would
 * pass the cap is created, with the same signal. Tables get a budget of the same size (TABLE_ENTRY_BYTES).
 */
export const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * Fuel handed to a running guest at a time, at first. Smaller slices check the deadline more often (one slice
 * of a tight loop runs for roughly 10–30 µs here); larger ones cost fewer host round trips. The
 * slice grows (FUEL_SLICE_MAX) while slices run out faster than FUEL_SLICE_MS: interpreters are
 * charged far more fuel per nanosecond than a tight loop (QuickJS spent a 20,000 slice in ~1 µs, and
 * its refuels were ~20 points of its fuel overhead). The size of a slice never changes the fuel a
 * call reports, only how often the deadline is checked.
 */
export const FUEL_SLICE = 20_000;

/**
 * The largest slice (see FUEL_SLICE). It bounds how late a deadline can be seen after a guest's code
 * turns slow per fuel within one call (the slice starts at FUEL_SLICE in every invocation and drops
 * back to it after one slow slice): code bound by page faults ran ~300 ns per fuel in a review's guest,
 * so one such slice runs ~30 ms (1M slices ran 256–300 ms, past the grace, and the worker was killed).
 * QuickJS still makes ~85 refuels per JSON call instead of 460 with fixed 20,000 slices.
 */
export const FUEL_SLICE_MAX = 100_000;

/** A slice that ran out sooner than this after the previous one makes the next slice twice as large; one that took over 4× as long halves it (see FUEL_SLICE). */
export const FUEL_SLICE_MS = 0.1;

/** Instance pool defaults (per component); see `PoolOptions`. */
export const DEFAULT_POOL = {
  /** Calls of one component in flight at once; further callers wait for a checkout. */
  maxInstances: 64,
  /** An instance is recycled after this many calls, so guest-side leaks cannot build up. */
  maxUses: 10_000,
  /** Idle instances older than this are reaped; the next call builds a fresh one. */
  maxIdleMs: 60_000,
  /** How long a caller waits for a checkout before `CheckoutTimeout`. */
  checkoutTimeoutMs: 5_000,
  /** Instances built ahead of calls and kept (0: built by the first call that needs one). */
  minInstances: 0,
} as const;

/**
 * Bytes of each region of a worker's call slot, the shared memory that carries a host call's
 * arguments and its result between the worker and the main thread. A host call whose arguments or
 * result do not fit ends in a `Trap` with code `host-error` (a call's own arguments or result that
 * do not fit are sent through the slot's port instead).
 */
/**
 * Idle instances a runtime keeps across all its components, split evenly between its workers; past a
 * worker's share, the instance idle longest is recycled (counted as `recycled.idle`; the next call of
 * its component builds a fresh one). Each wasm memory reserves 10 GiB of address space for V8's guard
 * regions and a process has 128 TiB, so it holds ~12,800 memories whatever their size: a QuickJS
 * module's instance has three, and workers that kept one per module failed with "Cannot allocate Wasm
 * memory" past ~4,300 modules (after V8's last-resort GCs had slowed every instantiation before). The
 * default keeps 6,000 such memories (~1/2 of the space) and ~1.1 GiB of RSS for the small QuickJS
 * counter (0.55 MiB each). Instances of components with `minInstances` are not recycled by it.
 */
export const DEFAULT_IDLE_INSTANCES = 2_000;

export const DEFAULT_HOST_CALL_BUFFER_BYTES = 1024 * 1024;
/**
 * Bounds of `hostCallBufferBytes`. Each worker's call slot holds two regions of this size (the main
 * thread's and the worker's), so 256 MiB is half a GiB per worker thread.
 */
export const MIN_HOST_CALL_BUFFER_BYTES = 4_096;
export const MAX_HOST_CALL_BUFFER_BYTES = 256 * 1024 * 1024;

/**
 * Worker threads one runtime may run (`threads`, `[engine]` `threads`; the default is the machine's
 * available parallelism). More is refused as an `invalid-option`.
 */
export const MAX_THREADS = 64;

/**
 * How long a worker polls for the host's answer before it sleeps in `Atomics.wait`: 2,000 checks,
 * ~17 µs here. Measured round trip of a trivial host call: p50 25 µs without the spin, 16 µs with it;
 * a slow host call wastes at most those 17 µs of the worker's core. The spin is adaptive (SpinGate.ts):
 * a worker whose spins stop catching answers (a busy machine, slow host functions) sleeps at once.
 */
export const SPIN_CHECKS = 2_000;

/** Host calls in a row whose answer came after the spin before a worker stops spinning (SpinGate.ts). */
export const SPIN_MISSES = 4;

/**
 * The most host calls a worker that stopped spinning makes without a spin before it tries one again
 * (it probes after 1, 2, 4 … calls, doubling while probes miss; SpinGate.ts).
 */
export const SPIN_BACKOFF_MAX = 64;

/**
 * How long a worker waits for its next call in a blocking `Atomics.wait` before it waits in
 * `Atomics.waitAsync`, which lets its event loop run (the idle-instance reaper). A worker in
 * `Atomics.wait` is woken by the futex alone; one in `Atomics.waitAsync` through its event loop, which
 * measured 2.3× the floor's round trip side by side (41 against 18 µs, loaded 2-core machine). A call
 * that comes within this window of the last one is taken at the floor's cost; one that comes later
 * pays the event loop's ~20 µs once, next to a gap of at least this long. No CPU is spent waiting:
 * this replaced a 20 µs spin (`CALL_SPIN_MS`) that paid only where wake-ups were slow and cores free.
 */
export const CALL_WAIT_MS = 2;

/**
 * A worker busy with calls that follow each other within `CALL_WAIT_MS` never gives its event loop a
 * turn; at least this often, it waits in `Atomics.waitAsync` instead, so its timers (the reaper) run.
 */
export const WORKER_TURN_MS = 20;

/**
 * Modules an engine loads at once when it starts (each reads its state and cursors from the store and
 * checks its component). One after another, start-up was bound by those awaits, with every thread
 * mostly idle; at most this many at a time keeps the main thread busy without queueing thousands of
 * store reads at once.
 */
export const MODULE_LOAD_CONCURRENCY = 32;

/** How long `close()` waits for in-flight calls before it terminates the workers. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;

/**
 * Host bytes one table entry is counted at. Tables are capped by the memory cap too, on a budget of
 * their own: all the tables a component instance defines (in all its core instances) together may
 * have `memoryBytes / TABLE_ENTRY_BYTES` entries (1,048,576 under the default cap); a table one core
 * module imports from another is its owner's, counted once, and a grow is counted whoever runs it. A funcref
 * entry measured ~46 bytes of host RSS on Node 20 (16 on the worker's V8 heap, the rest in its dispatch table), rounded up here. `table.grow` past the
 * cap returns -1 inside the guest; if the guest then traps, the signal is `MemoryLimitExceeded` with
 * `resource: 'table'`. A module that declares more entries, or an element segment longer than the cap,
 * is refused when it is instantiated, before the host allocates the table, with the same signal.
 */
export const TABLE_ENTRY_BYTES = 64;

/**
 * Fuel of bulk instructions beyond their own 1: `memory.fill`, `memory.copy` and `memory.init` cost one
 * more per 2^BULK_MEMORY_FUEL_SHIFT bytes (1 per 16 bytes: a 4 MiB fill costs 262,144), charged before
 * the instruction runs, so a guest out of fuel stops before the fill it cannot pay for. Measured on
 * Node 20 (2 shared cores): a 4 MiB fill took 320–750 µs, 1.2–2.9 ns per fuel, where a plain loop ran
 * at 1.6–5.7 ns per fuel; before, a 4 MiB fill cost a few fuel and 1M fuel bought ~5 s of fills.
 */
export const BULK_MEMORY_FUEL_SHIFT = 4;

/**
 * Fuel of each entry a `table.grow` adds, charged before the grow runs (a grow the budget cannot pay
 * for ends in `OutOfFuel` and allocates nothing). Measured on Node 20 (2 shared cores): a funcref
 * table.grow took 167–187 ns per entry (100,000 to 1,000,000 entries), so 64 fuel is ~2.8 ns per
 * fuel, in the band of plain loops and bulk fills (see BULK_MEMORY_FUEL_SHIFT). A refused grow is not
 * charged, and one charge is at most 2^30 (a grow of more than 2^24 entries, which V8 refuses anyway).
 * Before, a grow of 448,000 entries cost 3 fuel and ~75 ms.
 */
export const TABLE_ENTRY_FUEL = 64;

/** Wasm page size, fixed by the spec. */
export const WASM_PAGE_BYTES = 65_536;

/**
 * Limits of one job (a run of a module's `run-job`), unless the engine config says otherwise
 * (`[engine.jobs]`). Jobs run on instances of their own, apart from the module's events, so their
 * memory cap can differ; when a limit trips the run ends with that signal and the task is retried
 * with backoff (src/jobs/JobRunner.ts).
 */
export const DEFAULT_JOB_LIMITS = {
  fuel: 10_000_000,
  timeoutMs: 30_000,
  memoryBytes: 64 * 1024 * 1024,
} as const;

/** What a module granted `high_resource_jobs` gets for its jobs instead (`[engine.jobs]` `max_*`). */
export const HIGH_RESOURCE_JOB_LIMITS = {
  fuel: 2_000_000_000,
  timeoutMs: 10 * 60_000,
  memoryBytes: 1024 * 1024 * 1024,
} as const;

/** Per module: its queue and jobs, unless its manifest's `[modules.jobs]` says otherwise. */
export const DEFAULT_JOBS = {
  /** Jobs of one module running at once (beside its events). */
  concurrency: 2,
  /** Enqueues per minute (a token bucket: a burst of this many, then one every 60/n s); past it `limit("rate")`. */
  ratePerMinute: 60,
  /** Retries a task gets when it does not ask (`max-retry`); after them it is dead-lettered. */
  retry: 3,
  /** The most retries a task may ask for. */
  maxRetry: 25,
} as const;

/**
 * Module queries (`[engine.query]`; the `query` export of wit/module.wit's `queryable-module`). Queries
 * run on a runtime of their own (`threads` worker threads, started at the first query), so a query
 * spinning to its deadline holds no worker that events use; their instances are built lazily, one
 * component pool per queried module. Every wasm memory reserves 10 GiB of address space (see
 * DEFAULT_IDLE_INSTANCES): the query runtime keeps at most `maxInstances` idle instances across all
 * modules (the longest idle is recycled past it, any after `maxIdleMs`), and at most `maxConcurrent`
 * run at once, so 10,000 loaded modules add at most `maxInstances + maxConcurrent` instances.
 */
export const DEFAULT_QUERY = {
  /** Worker threads of the query runtime. */
  threads: 1,
  /** Idle query instances kept across all modules; past it the one idle longest is recycled. */
  maxInstances: 8,
  /** Queries running at once across all modules; one more waits up to `checkoutTimeoutMs`, then is refused (`busy`, HTTP 503). */
  maxConcurrent: 4,
  /** How long a query waits for one of the `maxConcurrent` slots, ms. */
  checkoutTimeoutMs: 1_000,
  /** Fuel per query; then `OutOfFuel`. */
  fuel: 5_000_000,
  /** Wall-clock deadline per query, ms; then `ExecutionTimeout` (HTTP 504). */
  timeoutMs: 100,
  /** Cap on a query instance's linear memory, bytes (`MemoryLimitExceeded`). */
  memoryBytes: 32 * 1024 * 1024,
  /** A query instance idle this long is dropped; the next query of its module builds (and configures) a fresh one, ms. */
  maxIdleMs: 10_000,
  /** Bytes of one answer (UTF-8); a longer one is refused (`too-large`, HTTP 502). */
  maxResultBytes: 1024 * 1024,
} as const;

/**
 * WASI (src/wasi/): live resources one instance may hold (streams, pollables, descriptors: host
 * objects outside its memory cap), bytes of stdout and stderr together kept per call, the longest
 * single read handed back, descriptors open at once per component per worker (each is a host file
 * descriptor), and bytes of WASI answers a recording keeps per call.
 */
export const WASI_MAX_LIVE_RESOURCES = 10_000;
export const DEFAULT_WASI_OUTPUT_BYTES = 64 * 1024;
export const WASI_MAX_CHUNK_BYTES = 1024 * 1024;
export const WASI_MAX_OPEN_DESCRIPTORS = 256;
export const WASI_MAX_RECORDED_BYTES = 1024 * 1024;
/** Deterministic WASI mode (`wasi.deterministic: true`): clocks start at 2025-01-01T00:00:00Z, move 1 µs per read, random from seed 0. */
export const DEFAULT_DETERMINISTIC_START_MS = Date.UTC(2025, 0, 1);
export const DEFAULT_DETERMINISTIC_STEP_NS = 1_000;
export const DEFAULT_DETERMINISTIC_SEED = 0n;

/**
 * Bytes of one answer to the engine's own RPC requests (heads, blocks, log ranges): over HTTP the
 * answer is read as it arrives, over a WebSocket measured once in, and the request fails with viem's
 * `ResponseBodyTooLargeError` past it;
 * a log range that large is fetched again in smaller parts. (viem's own default, kept when corral took
 * over the reading to count a module's answers against its `rpcResponseBytes` as they arrive.)
 */
export const DEFAULT_ENGINE_RPC_RESPONSE_BYTES = 10 * 1024 * 1024;

/**
 * Timers one module may have pending (set and not yet fired), time and block timers together. Setting
 * a new tag past it answers the guest `limit("pending-timers")` (a fault it can handle: cancel, or move
 * a timer it has); moving or cancelling a timer it has is always allowed. Each timer also counts toward
 * `storedBytes`.
 */
export const DEFAULT_MAX_PENDING_TIMERS = 10_000;

/**
 * Timers of each kind (time, block) the engine holds in memory per module: the earliest ones. The
 * rest stay in LevelDB and are read in due order as these fire, so memory and the work of a start do
 * not grow with the number pending.
 */
export const DEFAULT_TIMER_WINDOW = 1_024;

/**
 * Timer events of one module delivered and not yet handled (or waiting for a retry), at most. Due
 * timers past it fire as these end, so a module with thousands due at once still takes its other
 * events in between and `stop()` waits for at most this many.
 */
export const TIMERS_IN_FLIGHT = 64;

/**
 * Bytes of a failed job's error text kept: in its task record (`lastError`, the dead letter's too),
 * in the log record of the failure and in `engine.jobs$`. Longer text is cut at a character boundary
 * and ends with how many bytes were cut; the guest's own text is never needed whole to tell what failed.
 */
export const DEFAULT_JOB_ERROR_BYTES = 4 * 1024;

/**
 * Dead letters kept per module (`[engine.jobs]` `dead_letter_max`, `dead_letter_max_age_ms`): the
 * newest `maxCount`, none older than `maxAgeMs`. Past either they are deleted (the oldest first),
 * their bytes given back to the module's `storedBytes`: at once when a new one passes the count, at
 * start and hourly for age. `corral dead-letters purge` deletes them by hand.
 */
export const DEFAULT_DEAD_LETTERS = {
  maxCount: 1_000,
  maxAgeMs: 7 * 24 * 60 * 60 * 1000,
} as const;

/**
 * Files corral reads that someone else wrote. Each is opened without blocking and must be a regular
 * file (a FIFO, a device such as /dev/zero or a directory is refused, naming the path), and no more
 * than its bound is read: a component larger than `MAX_COMPONENT_BYTES` is a `LoadError`
 * `too-large`; an engine.toml larger than `MAX_CONFIG_BYTES`, or nested deeper than
 * `MAX_CONFIG_DEPTH` tables (a dotted key of 50,000 parts), a `ConfigError`. The largest components
 * seen are ~40 MB (a Python interpreter); StarlingMonkey's is 12.5 MB.
 */
export const MAX_COMPONENT_BYTES = 256 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_DEPTH = 64;

/**
 * `corral replay`: the longest line of a recording it reads (an invocation with its arguments and
 * every host and WASI answer; a `ReplayError` `not-a-recording` past it), and the largest recording
 * file. A recorded component's limits are clamped to the runtime's maxima: fuel to
 * `HIGH_RESOURCE_JOB_LIMITS.fuel`, the deadline to `HIGH_RESOURCE_JOB_LIMITS.timeoutMs`, memory to
 * `HIGH_RESOURCE_JOB_LIMITS.memoryBytes` (the widest any engine grants).
 */
export const MAX_RECORDING_LINE_BYTES = 16 * 1024 * 1024;
export const MAX_RECORDING_BYTES = 1024 * 1024 * 1024;

/**
 * Per chain (`[chains.<id>]`), unless its configuration says otherwise.
 */
export const CHAIN_DEFAULTS = {
  /** Head polling interval of an HTTP endpoint, and of the fallback while a WebSocket is down (ms). */
  pollIntervalMs: 1_000,
  /** Largest `eth_getLogs` range when catching up (blocks); halved for good when the node refuses a range. */
  maxLogRange: 2_000,
  /**
   * Handled blocks keep undo records this deep. A reorg deeper than that cannot be undone: it halts
   * the modules it reaches (`ReorgBeyondWindow`).
   */
  reorgWindow: 64,
  /** Blocks a trigger's events wait below the head, for triggers that set none (0: delivered at once). */
  confirmations: 0,
  /**
   * Reconnection of a dropped WebSocket: from `initialMs`, doubling to `maxMs`, each wait spread by
   * ±`jitter` so many engines on one node do not reconnect in step. Meanwhile the fallback (if any) is polled.
   */
  reconnect: { initialMs: 250, maxMs: 30_000, jitter: 0.3 },
} as const;

/**
 * How often a chain's WebSocket is probed with `eth_blockNumber` (ms): a node that hangs never closes
 * its socket. A failed probe counts as a lost socket: it is reconnected (CHAIN_DEFAULTS.reconnect).
 */
export const HEAD_PROBE_INTERVAL_MS = 5_000;

/** How long a `newHeads` subscription may take to be answered (ms); past it the socket counts as lost and is reconnected. */
export const HEAD_SUBSCRIBE_TIMEOUT_MS = 10_000;

/**
 * How long one of the engine's requests to a chain may take to be answered (ms), over HTTP or a
 * WebSocket, unless the chain's config sets its own. viem's default, kept when corral took over the
 * WebSocket transport (src/chain/SocketRpc.ts).
 */
export const RPC_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Per-block log answers a chain keeps, so modules a little behind the others still share a fetch.
 * Past it the oldest is forgotten; a module that needs it again fetches it again.
 */
export const RECENT_BLOCK_LOGS = 1_024;

/**
 * Events per step when a module catches up: final blocks are handed over several at a time, in one
 * invocation and one commit, so a long backfill does not pay a worker round trip and a commit per
 * block. A block is never split: one with more events is a step of its own.
 */
export const CATCH_UP_STEP_EVENTS = 1_000;

/**
 * Catch-up ranges fetched ahead of the one being delivered: the node works while the module does
 * (deeper did not help against anvil, and costs a provider more concurrent requests).
 */
export const PREFETCH_RANGES = 1;

/**
 * Child addresses of a factory trigger per `eth_getLogs`: a module following more children asks in
 * several requests (per block near the head, per range when catching up) and merges their answers in
 * log order. Providers bound a filter's address list (some at a few hundred, some by the request's
 * size); past this many, the request is split rather than refused.
 */
export const FACTORY_ADDRESSES_PER_REQUEST = 500;

/**
 * A module's chain feed after a failed step (the node failed or answered malformed data, or the
 * module's event was not handled): it waits, doubling from `initialMs` to `maxMs`, then asks again
 * from the same cursor. It never gives up: the cursor is the truth.
 */
export const FEED_RETRY = { initialMs: 250, maxMs: 30_000 } as const;

/**
 * Supervision of every actor (module), unless its spec (`[modules.supervision]`) says otherwise.
 */
export const DEFAULT_SUPERVISION = {
  /** `permanent`: restarted after any signal. */
  restart: 'permanent' as 'permanent' | 'transient' | 'temporary',
  /** Restarts allowed within `periodMs`; one more opens the circuit (`ReachedMaxRestartIntensity`, `Quarantined`). */
  intensity: 3,
  periodMs: 5_000,
  /** Wait before a restart: from `initialMs`, `factor` times longer each time, at most `maxMs`, spread by ±`jitter`. */
  backoff: { initialMs: 100, maxMs: 30_000, factor: 2, jitter: 0.2 },
  /** An open circuit refuses events for `cooldownMs`, then lets a probe through; each failed probe multiplies the cooldown by `factor`, up to `maxCooldownMs`. */
  breaker: { cooldownMs: 30_000, factor: 2, maxCooldownMs: 600_000 },
  /** Events queued per actor before its producers wait (or, for kinds declared `coalesce`, the oldest gives way). */
  mailboxCapacity: 1_024,
  /** A full mailbox makes producers of every kind wait unless the spec says otherwise. */
  overflow: 'backpressure' as 'backpressure' | 'coalesce',
  /** How long `stop()` lets each actor drain before it is brutally killed (its in-flight call cancelled). */
  shutdownTimeoutMs: 5_000,
};

/**
 * A failed job's task runs again after a wait: `initialMs` after its first failure, doubling, at
 * most `maxMs`; after its retries (DEFAULT_JOBS.retry, or the task's `max-retry`) it is dead-lettered.
 */
export const JOB_RETRY = { initialMs: 1_000, maxMs: 60 * 60 * 1000 } as const;

/** Conflicting commits (see GuardedModuleStore) a job's run may meet before it counts as a failure (and is retried). */
export const JOB_CONFLICT_RETRIES = 10;

/** How often a module's expired deduplication records (unique-for, idempotency keys) are deleted (ms). */
export const DEDUPE_SWEEP_MS = 60 * 60 * 1000;

/** Bytes (UTF-8) of one task's payload; a larger one is refused (`invalid-input` to the guest, an error to the embedder). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

/** How long an idempotency key answers the first task's id (ms); after it the same key enqueues a new task. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * A timer whose event was not handled (circuit open, a handler that ended in a signal) fires again
 * after `initialMs`, doubling, at most `maxMs`. It is never dropped: the store keeps it until an
 * invocation of its event commits.
 */
export const TIMER_RETRY = { initialMs: 1_000, maxMs: 60_000 } as const;

/** Bytes (UTF-8) of a timer's tag: 1 to this many; others are refused (`invalid-input`). */
export const MAX_TIMER_TAG_BYTES = 256;

/** Bytes of a store key; a longer one is refused (`invalid-input`): LevelDB copes, but nothing good needs them. */
export const MAX_KEY_BYTES = 64 * 1024;

/** Keys one `list-keys` page returns at most, whatever the guest asks (it pages on with the last key). */
export const MAX_LIST_KEYS = 1_000;

/**
 * The PostgreSQL store shared by engine replicas (src/store/postgres/, src/engine/Placement.ts).
 * The lease period bounds failover: a replica that goes silent (killed machine, frozen VM, GC pause)
 * loses its session, and with it its advisory locks, within `leaseMs` (the server's
 * `idle_session_timeout` on the lease connection, plus TCP keepalives); it stops committing on its
 * own at `leaseMs - LEASE_SELF_FENCE_MS` without a successful heartbeat, and the epoch refuses
 * anything it sends later.
 */
export const DEFAULT_POSTGRES = {
  /** Schema holding corral's tables. */
  schema: 'corral',
  /** Pooled connections for commits and reads (the lease connection is extra). */
  pool: 10,
  /** Lease period: how long a silent replica keeps its modules at most. */
  leaseMs: 10_000,
  /** Heartbeats per lease period on the lease connection. */
  heartbeatsPerLease: 5,
  /** A replica that joined counts for placement only after this long, so a rolling deploy does not move modules twice. */
  joinDelayMs: 10_000,
  /** A module is not moved away from a replica that acquired it less than this long ago (hysteresis). */
  minHoldMs: 30_000,
  /** Handovers a replica starts per placement round, so a new replica's arrival moves modules gradually. */
  maxMovesPerRound: 2,
  /** How often a replica re-checks placement without a NOTIFY hint. */
  reconcileMs: 1_000,
  /** Memory a replica may spend caching the state of the modules it owns (stored bytes + ~400 B per key); past it, it refuses to acquire more. */
  cacheBytes: 1024 * 1024 * 1024,
  /** Retry of a lost lease connection, first delay and cap. */
  reconnect: { initialMs: 250, maxMs: 5_000 },
  /** Custom events a module's feed reads from the table per query. */
  customBatch: 256,
} as const;

/** A replica stops committing this long before its lease would expire without a heartbeat. */
export const LEASE_SELF_FENCE_MS = 1_000;

/**
 * `/readyz` (`[engine.readiness]`): a module that caught up is still ready while it is at most
 * `maxLagBlocks` behind a chain's head (less its confirmations), so a head that arrives while a step
 * commits does not flap a deploy; a configured chain with no new head for `maxHeadAgeMs` is
 * `chain-stalled` (two minutes: many slow-block chains' worst gaps, yet well inside an alerting window).
 */
export const DEFAULT_READINESS = {
  maxLagBlocks: 16,
  maxHeadAgeMs: 120_000,
} as const;

/**
 * OpenTelemetry traces (`[engine.tracing]`, docs/tracing.md). Off by default: an engine without a
 * tracer makes no OpenTelemetry call at all. `sampleRatio` keeps that share of traces (a root's
 * decision holds for its children); `hostCalls` gives each host call its own span, which a step
 * calling the chain a thousand times multiplies by a thousand.
 */
export const TRACING_DEFAULTS = {
  enabled: false,
  /** OTLP/HTTP traces endpoint (an OpenTelemetry Collector's, Jaeger's or Tempo's). */
  endpoint: 'http://127.0.0.1:4318/v1/traces',
  serviceName: 'corral',
  sampleRatio: 1,
  hostCalls: true,
  /**
   * The longest one OTLP export may take (ms), and the longest the flush at stop waits: a collector
   * that accepts and never answers is given up on then, the spans still unsent are dropped with a
   * warning, and the stop goes on (without this bound the SDK's own timeouts held `corral run`'s exit:
   * 10.3 s measured, up to 30 s for a flush).
   */
  exportTimeoutMs: 10_000,
} as const;

/**
 * `corral batch` and `runBatch` (src/batch/). Calls in flight keep every worker busy while the main
 * thread reads inputs and writes lines; results are yielded in input order, so one slow input holds
 * back those after it in the reorder buffer, and a full buffer stops intake until it drains.
 */
export const BATCH_DEFAULTS = {
  /** Calls in flight per worker thread (`--in-flight` sets the total). */
  inFlightPerThread: 16,
  /** Finished results held waiting for an earlier input; at this many, no further input starts. */
  reorderMax: 4_096,
  /** Output is written in chunks of about this size (or every `flushMs`), not a write per line. */
  writeChunkBytes: 64 * 1024,
  /** The longest a finished line waits in memory before it is written; also the progress bar's period (≤ 10 Hz). */
  flushMs: 100,
} as const;

/**
 * The live read API (`[engine.api]`, src/metrics/api/): what one request may cost. Every request reads
 * through a store snapshot (on LevelDB, on the API's read thread), so at most `maxConcurrent`
 * run at once and any further one is answered 503 with `Retry-After: retryAfterS` instead of queueing;
 * a page stops at `limit` entries or once `maxPageBytes` of keys and values are in it, whichever
 * comes first (one oversized value is cut and marked `truncated`).
 */
export const DEFAULT_API = {
  /** The environment variable that holds the bearer token. */
  tokenEnv: 'CORRAL_API_TOKEN',
  /** Entries per page when the request names no `limit`. */
  pageLimit: 100,
  /** The largest `limit` a request may ask; a larger one is refused (400). */
  maxPageLimit: 1_000,
  /** Key and value bytes per page; the page ends (with `next`) once it holds this much. */
  maxPageBytes: 1024 * 1024,
  /** Requests served at once; past it, 503 with `Retry-After`. */
  maxConcurrent: 2,
  /** Seconds a client refused for load is told to wait (`Retry-After`). */
  retryAfterS: 1,
  /**
   * Milliseconds a request's read may take; past it the client is answered 503 `timeout` with
   * `Retry-After`, and the read thread (stuck: a page is bounded work) is ended and started afresh.
   */
  deadlineMs: 10_000,
} as const;

/**
 * Milliseconds the read API's thread may take to start and open the LevelDB (on a loaded machine,
 * seconds); the reads' own deadlines run from then. Past it the thread is ended, the reads waiting for
 * it are answered 500, and the next request starts a new one.
 */
export const READ_THREAD_START_MS = 60_000;

/**
 * A chain's RPC endpoint pool (`[chains.<id>.pool]`, src/chain/EndpointPool.ts), used when it lists
 * more than one endpoint in `rpc_urls`; with one endpoint there is nothing to choose and nothing is probed.
 */
export const RPC_POOL_DEFAULTS = {
  /** How often each endpoint is asked `eth_blockNumber` (ms): its head and latency for selection. */
  healthIntervalMs: 5_000,
  /** An endpoint more blocks than this behind the highest known head is tried last for requests at `latest`. */
  maxHeadLagBlocks: 2,
  /** Consecutive failures (transport errors, timeouts, HTTP 5xx, internal errors) that eject an endpoint. */
  ejectAfterErrors: 3,
  /** An ejected endpoint's first time out (ms); each further ejection doubles it, up to RPC_POOL_MAX_EJECT_MS. */
  ejectMs: 10_000,
} as const;

/** The longest an endpoint stays ejected (ms), however often it failed. */
export const RPC_POOL_MAX_EJECT_MS = 300_000;

/** Weight of the newest sample in an endpoint's smoothed latency and error rate (0–1). */
export const RPC_POOL_EWMA_WEIGHT = 0.2;

/**
 * The block-pinned response cache shared by every module (`[engine.rpc_cache]`,
 * src/chain/ResponseCache.ts): answers of requests at a block hash, which cannot change. Past
 * `maxBytes` (answer and key bytes) the least recently used answers are forgotten.
 */
export const RPC_CACHE_DEFAULTS = {
  enabled: true,
  maxBytes: 64 * 1024 * 1024,
} as const;

/**
 * Shadow runs of a candidate version beside a live module (`[modules.shadow]`, docs/shadow.md). Each
 * live step waits in a queue of `queueSteps` for the candidate, holding the state the step started
 * from (the pre-images of the module's commits since: src/engine/ShadowState.ts); when the candidate falls that far behind, the step is not shadowed and counts as
 * `skipped` (`corral_shadow_steps_total{result="skipped"}`) instead of the queue growing. The first
 * `keepDifferences` steps that differ are kept (in memory and under the module's reserved key
 * `shadow/report`, which `corral inspect` shows); later ones are only counted. A fuel difference
 * within `fuelTolerance` (a fraction of the live step's fuel) is not one. Values in a kept difference
 * are cut to `valueChars` characters. Every candidate of the engine runs its guest on one runtime of
 * `threads` worker threads, made at the first shadow: one thread, so candidates never take more than
 * one core nor queue before a live call (measured on 2 cores: candidates on the live modules' pool
 * doubled a live step's p50). Its `priority` is normal, not `lowest` (nice 19): with two busy loops on
 * the 2 cores, paced live steps paid 1.16–2.08× (5 runs) beside a normal-priority candidate and
 * 1.66–2.37× (4 runs) beside a nice-19 one, which also shadowed 3–4× fewer steps (a starved
 * candidate step lingers across many live steps); without added load the two were alike.
 * A candidate step starts only while its module runs no live step; a module that never pauses holds
 * the state of its queued steps as the pre-images of its commits since (each key's previous value),
 * and past `heldCommits` commits or `heldBytes` bytes of them its oldest queued steps are dropped
 * (skipped) rather than that memory growing: 4,096 commits covers a saturated stretch of seconds,
 * and 16 MiB keeps a module with large values from holding more than a small share of a heap.
 */
export const DEFAULT_SHADOW = {
  queueSteps: 8,
  threads: 1,
  priority: 'normal' as 'normal' | 'lowest',
  heldCommits: 4_096,
  heldBytes: 16 * 1024 * 1024,
  keepDifferences: 20,
  fuelTolerance: 0.1,
  valueChars: 2_000,
} as const;

/**
 * A hot swap's probation (`engine.replace`, `corral dev`): the new version's first invocations. A signal
 * among them swaps the previous version back (what it failed runs there); past them, a signal is the
 * supervisor's, as for any module. Three: a fresh instance runs `configure` and the first events of the
 * kinds a change touches, where a broken build fails, without keeping the old build for long.
 */
export const DEFAULT_REPLACE_PROBATION_INVOCATIONS = 3;

/** `corral dev`: how long the watched sources must be quiet before a build starts (ms); an editor's save is several writes. */
export const DEV_DEBOUNCE_MS = 150;

/**
 * Messages between modules (src/host/messages.ts, src/engine/MessageFeed.ts). `inbox`: messages of
 * one sender a receiver may have pending (sent, and not yet handled by the receiver's committed
 * steps); a send past it answers the sender `limit("inbox-full")`, a fault it can handle (retry later
 * from a timer, or drop), and its invocation goes on. Per receiver: its `messages` trigger's `inbox`.
 * `batch`: outbox entries a receiver's feed reads from one sender's outbox per read.
 * `correlationIdBytes`: the longest correlation id; longer is `invalid-input`.
 * `trimEvery`: a sender's outbox entries its receiver has handled (its committed cursor) are deleted
 * by a commit of the sender's own once this many have gathered since the last trim, or the receiver's
 * `inbox` if smaller (src/engine/OutboxTrim.ts); one sent by a chain step still in the reorg window
 * stays until its block leaves the window. So an outbox to one receiver holds at most `inbox` pending
 * entries + fewer than `min(trimEvery, inbox)` handled ones + those of blocks in the reorg window.
 * `retry`: runs of one message after its first that ended in a signal (a trap, out of fuel, past its
 * deadline) before the message is dead-lettered: moved to the receiver's `dead-msg/<sender>/<seq>`
 * record in the commit that advances its cursor on the sender, so the sender's next message is
 * delivered (one that fails every time would otherwise hold that sender's queue for good). Each failure
 * is a restart of the receiver's actor, after its backoff; 2 retries (3 runs) stay under
 * DEFAULT_SUPERVISION.intensity (3 restarts in 5 s, the 4th opens the circuit), so a poison message
 * is dead-lettered before one poison message quarantines its receiver (two in a row within the
 * supervisor's period still do: the restarts of both count). Counted in memory: an engine restart gives
 * the message its runs again.
 * `deadPayloadBytes`: bytes of a dead letter's payload (and `deadErrorBytes` of its last error) kept, as
 * JSON text; a longer one is cut, with its whole length and sha256 beside. A dead letter counts toward
 * the receiver's `storedBytes`; with whole payloads (up to `messageBytes`, 256 KiB) a few poison
 * messages filled a small receiver's quota, after which every message it got failed on its writes and
 * was dead-lettered too (found in review). Cut, one record stays under `deadRecordBytes`, and a receiver
 * keeps at most a tenth of its `storedBytes` in them (and never more than DEFAULT_DEAD_LETTERS.maxCount).
 */
export const DEFAULT_MESSAGES = { inbox: 1_000, batch: 256, correlationIdBytes: 256, trimEvery: 64, retry: 2, deadPayloadBytes: 1_024, deadErrorBytes: 512, deadRecordBytes: 4_096 } as const;

/**
 * Addresses a module adds to its named log triggers at run time (src/host/triggers.ts). `perStep`:
 * addresses one step may add; `total`: addresses one trigger may have added. Past either,
 * `add-address` answers `limit("trigger-addresses-per-step")` or `limit("trigger-addresses")` and the
 * invocation goes on (the address is not added). Each added address is also a key in the module's state
 * (toward `storedBytes`).
 */
export const DEFAULT_TRIGGER_ADDRESSES = { perStep: 100, total: 10_000 } as const;
