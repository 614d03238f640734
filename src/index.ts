/**
 * corral's public API. Everything else under src/ is internal and may change.
 */
export { Runtime, type RuntimeOptions, type LoadOptions } from './runtime/Runtime.ts';
export { Component, type CallOptions, type CallOutcome, type CallSuccess, type CallFailure, type Limits } from './runtime/Component.ts';
export type { HostFunction, HostImports } from './runtime/HostImports.ts';
export { invocationSignal, InvocationEnded } from './runtime/HostImports.ts';
export type { PoolOptions, PoolStats } from './runtime/InstancePool.ts';
export { CheckoutError } from './runtime/InstancePool.ts';
export { WASI_INTERFACES, WASI_VERSIONS } from './wasi/wasiPolicy.ts';
export type { WasiOptions } from './wasi/resolveWasiConfig.ts';
export type { GuestOutput } from './wasi/WasiConfig.ts';
export { Recorder } from './replay/Recorder.ts';
export { replay, type ReplayOptions, type ReplayReport, type ReplayDifference } from './replay/replay.ts';
export { encodeRecording, decodeRecording, type Recording, type RecordedInvocation, type RecordedHostCall, type RecordedWasiCall } from './replay/Recording.ts';
export { ReplayError, type ReplayErrorCode } from './replay/ReplayError.ts';
export { RuntimeSignal, type InvocationContext } from './signals/RuntimeSignal.ts';
export { OutOfFuel, type OutOfFuelData } from './signals/OutOfFuel.ts';
export { ExecutionTimeout, type ExecutionTimeoutData } from './signals/ExecutionTimeout.ts';
export { MemoryLimitExceeded, type MemoryLimitExceededData } from './signals/MemoryLimitExceeded.ts';
export { HostLimitExceeded, type HostLimitExceededData } from './signals/HostLimitExceeded.ts';
export { Trap, TRAP_CODES, type TrapCode, type TrapData, type HostErrorData } from './signals/Trap.ts';
export { signalFromData, strongestSignal, SIGNAL_PRIORITY, type Signal, type SignalData, type SignalName } from './signals/signalFromData.ts';
export { CorralError } from './errors/CorralError.ts';
export { LoadError, type LoadErrorCode } from './errors/LoadError.ts';
export { CorralRuntimeError, type RuntimeErrorCode } from './errors/RuntimeError.ts';
// The defaults an embedder reads (what it may set); the engine's internal tunings in limits/ stay internal.
export { DEFAULT_FUEL, DEFAULT_TIMEOUT_MS, DEFAULT_GRACE_MS, DEFAULT_MEMORY_BYTES, FUEL_SLICE, DEFAULT_POOL, DEFAULT_HOST_CALL_BUFFER_BYTES, MIN_HOST_CALL_BUFFER_BYTES, MAX_HOST_CALL_BUFFER_BYTES, DEFAULT_CLOSE_TIMEOUT_MS, TABLE_ENTRY_BYTES, BULK_MEMORY_FUEL_SHIFT, TABLE_ENTRY_FUEL, WASM_PAGE_BYTES, DEFAULT_JOB_LIMITS, HIGH_RESOURCE_JOB_LIMITS, DEFAULT_JOBS, WASI_MAX_LIVE_RESOURCES, DEFAULT_WASI_OUTPUT_BYTES, WASI_MAX_CHUNK_BYTES, WASI_MAX_OPEN_DESCRIPTORS, WASI_MAX_RECORDED_BYTES, DEFAULT_DETERMINISTIC_START_MS, DEFAULT_DETERMINISTIC_STEP_NS, DEFAULT_DETERMINISTIC_SEED, DEFAULT_ENGINE_RPC_RESPONSE_BYTES, DEFAULT_MAX_PENDING_TIMERS, DEFAULT_TIMER_WINDOW, TIMERS_IN_FLIGHT, DEFAULT_JOB_ERROR_BYTES, DEFAULT_DEAD_LETTERS, MAX_COMPONENT_BYTES, MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_RECORDING_LINE_BYTES, MAX_RECORDING_BYTES, CHAIN_DEFAULTS, DEFAULT_SUPERVISION } from './limits/defaults.ts';
export { DEFAULT_HOST_CAPS, type HostCaps, type HostLimitName } from './limits/hostCaps.ts';
export { HostFault } from './errors/HostFault.ts';
export { HostLimitError } from './errors/HostLimitError.ts';
export { type Clock, systemClock, ManualClock } from './clock/Clock.ts';
// The actor's class, machine and mailbox are internal; their shapes are public.
export type { Actor, ActorEvent, ActorInfo, DeliveryOutcome, Refusal } from './actor/Actor.ts';
export type { ActorStateName, RestartType, BackoffOptions, BreakerOptions } from './actor/actorMachine.ts';
export type { OverflowPolicy } from './actor/Mailbox.ts';
export { Supervisor, type ActorSpec, type GroupSpec, type SupervisorOptions } from './supervisor/Supervisor.ts';
export { MemoryBreakerStore, type BreakerStore, type BreakerRecord } from './supervisor/BreakerStore.ts';
export type * from './actor/LifecycleSignal.ts';
export type * from './supervisor/SupervisorSignal.ts';
export { Engine, type ChainPosition, type ChainStep, type EngineOptions, type InvocationRecord, type ModuleEvent } from './engine/Engine.ts';
export { EngineConfigSchema, type EngineConfig, type ResolvedEngineConfig } from './config/EngineConfig.ts';
export { loadConfig, resolveConfig, type LoadedConfig } from './config/loadConfig.ts';
export { startConfigured, type ConfiguredEngine } from './app/startConfigured.ts';
export { createEngine, type CorralEngine } from './app/createEngine.ts';
export { ConfigError, type ConfigProblem, type ConfigProblemCode } from './errors/ConfigError.ts';
export { EngineMetrics, serveMetrics, type MetricsServer } from './metrics/EngineMetrics.ts';
export { startAnvil, type Anvil } from './chain/embeddedAnvil.ts';
export { MODULE_INTERFACES } from './engine/ModuleManifest.ts';
export { parseManifest, type ModuleManifest } from './config/ModuleManifestSchema.ts';
export { LevelStore } from './store/LevelStore.ts';
export type { EngineStore, ModuleStore, Commit, JournalEntry, Write } from './store/EngineStore.ts';
export { EngineError, type EngineErrorCode } from './errors/EngineError.ts';
export { Bus, type ChainConfig } from './bus/Bus.ts';
export { TriggerSchema, type Trigger } from './config/TriggerSchema.ts';
export type { GuestEvent } from './bus/guestEvents.ts';
export type { ChainBlock, ChainLog, LogFilter, BlockCursor } from './chain/types.ts';
export { RpcDataError, type RpcDataErrorDetails } from './chain/RpcDataError.ts';
export type { RpcStats, RpcCount, RpcPurpose } from './chain/RpcStats.ts';
