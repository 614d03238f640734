import { z } from 'zod';
import { CHAIN_DEFAULTS } from '../bus/Bus.ts';
import { CapsSchema, LimitsSchema, ModuleManifestSchema } from '../engine/ModuleManifest.ts';
import { MAX_THREADS } from '../runtime/protocol.ts';
import { DEFAULT_SUPERVISION } from '../supervisor/Supervisor.ts';

const positiveInt = z.number().int().positive();

/** An RPC endpoint, or `anvil`: a dev chain the engine starts on a free loopback port and stops with itself. */
const RpcUrl = z.string().refine((url) => url === 'anvil' || /^(https?|wss?):\/\/[^\s/]+/i.test(url), {
  message: 'an http(s):// or ws(s):// URL, or "anvil"',
});

/** `[chains.<id>]` in engine.toml. */
export const ChainConfigSchema = z
  .object({
    rpcUrl: RpcUrl,
    /** Head polling interval of an HTTP endpoint, and of the fallback (ms). */
    pollIntervalMs: positiveInt.default(CHAIN_DEFAULTS.pollIntervalMs),
    /** An HTTP endpoint polled while a WebSocket is down. */
    fallbackRpcUrl: RpcUrl.optional(),
    /** Largest `eth_getLogs` range when catching up (halved when the node refuses it). */
    maxLogRange: positiveInt.default(CHAIN_DEFAULTS.maxLogRange),
    /** Blocks whose handling keeps undo records; a deeper reorg halts the modules it reaches. */
    reorgWindow: positiveInt.default(CHAIN_DEFAULTS.reorgWindow),
  })
  .strict();

/** `[engine]` in engine.toml. */
export const EngineSectionSchema = z
  .object({
    /** The LevelDB directory of every module's state, cursors and undo records (relative to the file). */
    stateDir: z.string().min(1).default('./state'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /** Worker threads that run guests. Default: the machine's available parallelism. */
    threads: z.number().int().min(1).max(MAX_THREADS).optional(),
    /** `host:port` of /metrics, /healthz and /readyz (not served when absent). */
    metrics: z
      .string()
      .regex(/^[^\s:]+:[0-9]{1,5}$/, 'host:port')
      .optional(),
    /** How long a stop lets in-flight events finish before they are cancelled (ms). */
    shutdownTimeoutMs: positiveInt.default(DEFAULT_SUPERVISION.shutdownTimeoutMs),
    /** Limits and host-call caps of every module: its defaults, and the widest it may ask for. */
    limits: LimitsSchema.merge(CapsSchema).default({}),
  })
  .strict();

/**
 * The whole configuration: engine.toml after its keys are turned from snake_case to camelCase, or the
 * object an embedder passes. Every engine-level default is here (the runtime's and the host caps'
 * are in src/limits/, which these defaults name).
 */
export const EngineConfigSchema = z
  .object({
    engine: EngineSectionSchema.default(EngineSectionSchema.parse({})),
    chains: z.record(z.string().regex(/^[1-9][0-9]*$/, 'a chain id (a positive integer)'), ChainConfigSchema).default({}),
    modules: z.array(ModuleManifestSchema).default([]),
  })
  .strict();

export type EngineConfig = z.input<typeof EngineConfigSchema>;
export type ResolvedEngineConfig = z.output<typeof EngineConfigSchema>;
