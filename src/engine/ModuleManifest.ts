import { z } from 'zod';
import { TriggerSchema } from '../bus/triggers.ts';
import { LoadError } from '../errors/LoadError.ts';
import { DEFAULT_JOBS } from '../limits/defaults.ts';
import { DEFAULT_SUPERVISION } from '../supervisor/Supervisor.ts';
import { isWasiImport } from '../wasi/wasiPolicy.ts';

/** The interfaces of corral's world (`wit/module.wit`), by the name a manifest grants them under. */
export const MODULE_INTERFACES = {
  store: 'corral:module/store',
  logging: 'corral:module/logging',
  chain: 'corral:module/chain',
  http: 'corral:module/http',
  cowApi: 'corral:module/cow-api',
  timers: 'corral:module/timers',
  queue: 'corral:module/queue',
} as const;
export type InterfaceName = keyof typeof MODULE_INTERFACES;

const positiveInt = z.number().int().positive();

/** Per-invocation limits of a module (defaults in src/limits/defaults.ts, or the engine's). */
export const LimitsSchema = z.object({ fuel: positiveInt, timeoutMs: z.number().positive().max(2_147_483_647), memoryBytes: positiveInt }).partial().strict();

/** Per-invocation caps on host calls, and the module's stored bytes (defaults: src/limits/hostCaps.ts). */
const ms = positiveInt.max(2_147_483_647);
const S = DEFAULT_SUPERVISION;

/**
 * `[modules.supervision]`: how the module's actor is restarted after a signal and when its circuit
 * opens. The defaults are the supervisor's (`DEFAULT_SUPERVISION`); the descriptions are the README's.
 */
export const SupervisionSchema = z
  .object({
    intensity: positiveInt.default(S.intensity).describe('restarts allowed within `period_ms`; one more opens the circuit (`ReachedMaxRestartIntensity`, `Quarantined`)'),
    periodMs: ms.default(S.periodMs).describe('the window `intensity` counts restarts in (ms)'),
    backoffInitialMs: z.number().int().min(0).max(2_147_483_647).default(S.backoff.initialMs).describe('wait before the first restart (ms); each further one waits `backoff_factor` times longer'),
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

export const CapsSchema = z
  .object({
    chainRequests: positiveInt,
    rpcResponseBytes: positiveInt,
    httpFetches: positiveInt,
    httpResponseBytes: positiveInt,
    httpRequestBytes: positiveInt,
    httpTimeoutMs: positiveInt.max(2_147_483_647),
    storeOps: positiveInt,
    storeBytesWritten: positiveInt,
    logRecords: positiveInt,
    logBytes: positiveInt,
    storedBytes: positiveInt,
  })
  .partial()
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
        /** Its jobs run under `[engine.jobs]` `max_*` limits instead of the standard job limits. Not an interface: only engine config can give it. */
        highResourceJobs: z.boolean().optional(),
      })
      .strict()
      .default({})
      .describe('interfaces it may import: `store`, `logging` (booleans), `chain = { chains = [ids] }`, `http = { hosts = [names] }`, `cow_api = { chains = [ids] }`, `timers` (boolean)'),
    /** Topics of embedder-published events this module receives (shorthand for `custom` triggers). */
    topics: z.array(z.string().min(1)).default([]).describe('embedder topics it receives (shorthand for `custom` triggers)'),
    /** What wakes the module: blocks, logs (the eth_getLogs filter shape) and custom topics. See src/bus/triggers.ts. */
    triggers: z.array(TriggerSchema).default([]).describe('`block`, `log`, `custom` and `cron` triggers (see "The bus")'),
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
    caps: CapsSchema.default({}).describe("host-call caps (as in `[engine.limits]`): narrower than the engine's"),
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

/**
 * Refuses a component that imports an interface its manifest does not grant (naming it), or anything
 * outside corral's world, or that lacks `on-event`.
 */
export function checkCapabilities(manifest: ResolvedManifest, imports: Record<string, string[]>, exports: string[]): void {
  const granted = new Set(
    (Object.keys(MODULE_INTERFACES) as InterfaceName[]).filter((name) => manifest.grants[name] !== undefined && manifest.grants[name] !== false),
  );
  for (const specifier of Object.keys(imports)) {
    // WASI (stdout and stderr become the module's log records) is checked by the runtime at load.
    if (isWasiImport(specifier)) continue;
    const bare = specifier.replace(/@[^/]*$/, '');
    const entry = (Object.entries(MODULE_INTERFACES) as [InterfaceName, string][]).find(([, id]) => id === bare);
    if (!entry) {
      throw new LoadError('not-a-module', `module ${manifest.name} imports \`${specifier}\`, which is not part of corral's world`, {
        module: manifest.name,
        import: specifier,
      });
    }
    if (!granted.has(entry[0])) {
      throw new LoadError('capability-not-granted', `module ${manifest.name} imports \`${specifier}\`, but its manifest does not grant \`${entry[0]}\``, {
        module: manifest.name,
        import: specifier,
        interface: entry[0],
      });
    }
  }
  if (!exports.includes('onEvent')) {
    throw new LoadError('not-a-module', `module ${manifest.name} does not export \`on-event\``, { module: manifest.name });
  }
  const enqueues = Object.keys(imports).some((specifier) => specifier.replace(/@[^/]*$/, '') === MODULE_INTERFACES.queue);
  if (enqueues && !exports.includes('runJob')) {
    throw new LoadError('not-a-module', `module ${manifest.name} imports \`${MODULE_INTERFACES.queue}\` but does not export \`run-job\`, which would run its tasks`, { module: manifest.name });
  }
}
