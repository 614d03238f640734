import { z } from 'zod';
import { LoadError } from '../errors/LoadError.ts';
import { DEFAULT_JOBS, DEFAULT_SHADOW, DEFAULT_SUPERVISION, MAX_TIMER_DELAY_MS } from '../limits/defaults.ts';
import { TriggerSchema } from './TriggerSchema.ts';

const positiveInt = z.number().int().positive();

/** Per-invocation limits of a module (defaults in src/limits/defaults.ts, or the engine's). */
export const LimitsSchema = z.object({ fuel: positiveInt, timeoutMs: z.number().positive().max(MAX_TIMER_DELAY_MS), memoryBytes: positiveInt }).partial().strict();

const ms = positiveInt.max(MAX_TIMER_DELAY_MS);
const S = DEFAULT_SUPERVISION;

/**
 * `[modules.supervision]`: how the module's actor is restarted after a signal and when its circuit
 * opens. The defaults are the supervisor's (`DEFAULT_SUPERVISION`); the descriptions are the engine.toml reference's.
 */
export const SupervisionSchema = z
  .object({
    intensity: positiveInt.default(S.intensity).describe('restarts allowed within `period_ms`; one more opens the circuit (`ReachedMaxRestartIntensity`, `Quarantined`)'),
    periodMs: ms.default(S.periodMs).describe('the window `intensity` counts restarts in (ms)'),
    backoffInitialMs: z.number().int().min(0).max(MAX_TIMER_DELAY_MS).default(S.backoff.initialMs).describe('wait before the first restart (ms); each further one waits `backoff_factor` times longer'),
    backoffMaxMs: ms.default(S.backoff.maxMs).describe('longest wait before a restart (ms)'),
    backoffFactor: z.number().min(1).max(100).default(S.backoff.factor).describe('growth of the wait from one restart to the next'),
    backoffJitter: z.number().min(0).max(1).default(S.backoff.jitter).describe('random share of each wait (0–1), so modules that failed together do not restart together'),
    breakerCooldownMs: ms.default(S.breaker.cooldownMs).describe('how long an open circuit refuses events before a half-open probe (ms)'),
    breakerFactor: z.number().min(1).max(100).default(S.breaker.factor).describe('growth of the cooldown after each failed probe'),
    breakerMaxCooldownMs: ms.default(S.breaker.maxCooldownMs).describe('longest cooldown (ms)'),
    mailboxCapacity: positiveInt.max(1_000_000).default(S.mailboxCapacity).describe('events queued for the module before producers wait (chain feeds pause, `publish` waits)'),
  })
  .strict();

/** `[modules.jobs]`: the module's queue and jobs. Defaults: `DEFAULT_JOBS` (src/limits/defaults.ts). */
export const JobsSchema = z
  .object({
    concurrency: positiveInt.max(64).default(DEFAULT_JOBS.concurrency).describe('jobs of the module running at once, beside its events'),
    ratePerMinute: positiveInt.max(1_000_000).default(DEFAULT_JOBS.ratePerMinute).describe('enqueues per minute (a burst of this many, then one every 60/n s); past it `enqueue` answers `limit("rate")`'),
    retry: z.number().int().min(0).max(1_000).default(DEFAULT_JOBS.retry).describe('retries of a failed task that does not set `max-retry`; then it is dead-lettered'),
    maxRetry: z.number().int().min(0).max(1_000).default(DEFAULT_JOBS.maxRetry).describe('the most retries a task may ask for (more is cut to this)'),
  })
  .strict();

/** Per-invocation caps on host calls, and the module's stored bytes (defaults: src/limits/hostCaps.ts). */
export const CapsSchema = z
  .object({
    chainRequests: positiveInt,
    rpcResponseBytes: positiveInt,
    httpFetches: positiveInt,
    httpResponseBytes: positiveInt,
    httpRequestBytes: positiveInt,
    httpTimeoutMs: positiveInt.max(MAX_TIMER_DELAY_MS),
    storeOps: positiveInt,
    storeBytesWritten: positiveInt,
    logRecords: positiveInt,
    logBytes: positiveInt,
    storedBytes: positiveInt,
    messagesSent: positiveInt,
    messageBytes: positiveInt,
  })
  .partial()
  .strict();

/** `[modules.shadow]`: a candidate version run beside the module on the same events, never committing or sending anything (docs/shadow.md). */
export const ShadowSchema = z
  .object({
    component: z.string().min(1).describe('path of the candidate component (.wasm), relative to the file; it gets the module\'s config, grants and limits'),
    fuelTolerance: z.number().min(0).max(100).default(DEFAULT_SHADOW.fuelTolerance).describe("a candidate step's fuel within this share of the live step's (0.1: ±10 %) is not reported as a difference"),
  })
  .strict();

/** A module's manifest: what it is, what it may use, and its limits. Validated at load. */
export const ModuleManifestSchema = z
  .object({
    /** Also the prefix of its state in LevelDB: lower-case letters, digits, `-` and `_`. */
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, - and _, at most 64')
      .describe('the module, and the prefix of its state: lower-case letters, digits, `-` and `_`'),
    /** Path of the component (.wasm). */
    component: z.string().min(1).describe('path of the component (.wasm), relative to the file'),
    /** SHA-256 of the component file (hex): a different file is refused at load, naming both digests. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits').optional().describe('pin of the component file: another file is refused, naming both digests'),
    /** After a signal: `permanent` restarts always, `transient` after failures only, `temporary` never. Default permanent. */
    restart: z.enum(['permanent', 'transient', 'temporary']).optional().describe('after a signal: `permanent` (default) restarts always, `transient` after failures, `temporary` never'),
    /** Opaque configuration handed to `configure` on every fresh instance. */
    config: z.string().default('').describe('opaque, handed to `configure` on every fresh instance (in engine.toml a table becomes its JSON)'),
    /** Interfaces the module may import. Anything it imports beyond these is refused at load. */
    grants: z
      .object({
        store: z.boolean().optional(),
        logging: z.boolean().optional(),
        chain: z.object({ chains: z.array(positiveInt) }).strict().optional(),
        http: z.object({ hosts: z.array(z.string().min(1)) }).strict().optional(),
        /** The CoW Protocol order book of these chains (each chain's `orderbookUrl`). */
        cowApi: z.object({ chains: z.array(positiveInt) }).strict().optional(),
        /** Durable wake-ups at a block of its chains or at a time (`timer(tag)` events). */
        timers: z.boolean().optional(),
        /** Deferred work: tasks its `run-job` export runs later (`queue.enqueue`). */
        queue: z.boolean().optional(),
        /** Modules it may send messages to (`messages.send`); each must take them with a `messages` trigger naming it. */
        messages: z.array(z.string().min(1)).optional(),
        /** Adding and removing addresses of its own named log triggers at run time (`triggers.add-address`). */
        triggers: z.boolean().optional(),
        /** Its jobs run under `[engine.jobs]` `max_*` limits instead of the standard job limits. Not an interface: only engine config can give it. */
        highResourceJobs: z.boolean().optional(),
      })
      .strict()
      .default({})
      .describe('interfaces it may import: `store`, `logging` (booleans), `chain = { chains = [ids] }`, `http = { hosts = [names] }`, `cow_api = { chains = [ids] }`, `timers` (boolean), `messages = [modules]`, `triggers` (boolean)'),
    /** Whether its `chain.request` calls at `latest` in a chain step read the step's block (src/chain/pinRequest.ts). */
    pinLatest: z
      .boolean()
      .optional()
      .describe('`chain.request` at `latest` (or no block, or a number at or below the delivered block) in a chain step is sent at the hash of the block the step ends at, and shares the block-pinned cache (default `true`; `false`: sent as written)'),
    /** Topics of embedder-published events this module receives (shorthand for `custom` triggers). */
    topics: z.array(z.string().min(1)).default([]).describe('embedder topics it receives (shorthand for `custom` triggers)'),
    /** What wakes the module: blocks, logs (the eth_getLogs filter shape) and custom topics. See src/bus/triggers.ts. */
    triggers: z.array(TriggerSchema).default([]).describe('`block`, `log`, `custom`, `cron` and `messages` triggers (see "The bus", and "Messages" in docs/modules.md)'),
    /**
     * Where a module without a cursor starts on its chains: one block number for all, or one per chain
     * id. Default: the head (less the confirmations) when the module first starts.
     */
    startBlock: z
      .union([z.number().int().min(0), z.record(z.string().regex(/^[1-9][0-9]*$/, 'a chain id'), z.number().int().min(0))])
      .optional()
      .describe('where it starts without a cursor: a block, or one per chain id (default: the head)'),
    supervision: SupervisionSchema.default(SupervisionSchema.parse({})).describe('see `[modules.supervision]`'),
    limits: LimitsSchema.default({}).describe("`fuel`, `timeout_ms`, `memory_bytes`: narrower than the engine's"),
    jobs: JobsSchema.default(JobsSchema.parse({})).describe('see `[modules.jobs]`'),
    query: LimitsSchema.default({}).describe("`fuel`, `timeout_ms`, `memory_bytes` of its `query` export (see docs/modules.md); each capped by `[engine.query]`'s"),
    caps: CapsSchema.default({}).describe("host-call caps (as in `[engine.limits]`): narrower than the engine's"),
    shadow: ShadowSchema.optional().describe('see `[modules.shadow]`: a candidate version shadowing this module'),
  })
  .strict();

export type ModuleManifest = z.input<typeof ModuleManifestSchema>;
export type ResolvedManifest = z.output<typeof ModuleManifestSchema>;

/** Validates a manifest; the error names every field that is wrong and where. */
export function parseManifest(input: unknown, where = 'module manifest'): ResolvedManifest {
  const result = ModuleManifestSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new LoadError('invalid-manifest', `${where} is invalid: ${problems.join('; ')}`, { where, problems });
}
