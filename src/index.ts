/**
 * corral's public API. Everything else under src/ is internal and may change.
 */
export { Runtime, type RuntimeOptions, type LoadOptions } from './runtime/Runtime.ts';
export { Component, type CallOptions, type CallOutcome, type CallSuccess, type CallFailure, type Limits } from './runtime/Component.ts';
export type { HostFunction, HostImports } from './runtime/hostBridge.ts';
export type { PoolOptions, PoolStats } from './runtime/InstancePool.ts';
export { WASI_INTERFACES, WASI_VERSIONS, type WasiOptions } from './wasi/wasiInterfaces.ts';
export type { GuestOutput } from './wasi/WasiConfig.ts';
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
export * from './limits/defaults.ts';
export { DEFAULT_HOST_CAPS, type HostCaps, type HostLimitName } from './limits/hostCaps.ts';
export { HostFault, HostLimitError } from './runtime/hostErrors.ts';
export { type Clock, systemClock, ManualClock } from './clock/Clock.ts';
// The actor's class, machine and mailbox are internal; their shapes are public.
export type { Actor, ActorEvent, ActorInfo, DeliveryOutcome, Refusal } from './actor/Actor.ts';
export type { ActorStateName, RestartType, BackoffOptions, BreakerOptions } from './actor/actorMachine.ts';
export type { OverflowPolicy } from './actor/Mailbox.ts';
export { Supervisor, DEFAULT_SUPERVISION, type ActorSpec, type GroupSpec, type SupervisorOptions } from './supervisor/Supervisor.ts';
export { MemoryBreakerStore, type BreakerStore, type BreakerRecord } from './supervisor/BreakerStore.ts';
export type * from './supervisor/SupervisorSignal.ts';
export { Engine, type ChainPosition, type ChainStep, type EngineOptions, type InvocationRecord, type ModuleEvent } from './engine/Engine.ts';
export { EngineConfigSchema, type EngineConfig, type ResolvedEngineConfig } from './config/EngineConfig.ts';
export { loadConfig, resolveConfig, type LoadedConfig } from './config/loadConfig.ts';
export { startConfigured, type ConfiguredEngine } from './config/startConfigured.ts';
export { createEngine, type CorralEngine } from './config/createEngine.ts';
export { ConfigError, type ConfigProblem, type ConfigProblemCode } from './errors/ConfigError.ts';
export { EngineMetrics, serveMetrics, type MetricsServer } from './metrics/EngineMetrics.ts';
export { startAnvil, type Anvil } from './chain/embeddedAnvil.ts';
export { parseManifest, MODULE_INTERFACES, type ModuleManifest } from './engine/ModuleManifest.ts';
export { LevelStore } from './store/LevelStore.ts';
export type { EngineStore, ModuleStore, Commit, JournalEntry, Write } from './store/EngineStore.ts';
export { EngineError, type EngineErrorCode } from './errors/EngineError.ts';
export { Bus, CHAIN_DEFAULTS, type ChainConfig } from './bus/Bus.ts';
export { TriggerSchema, type Trigger } from './bus/triggers.ts';
export type { GuestEvent } from './bus/guestEvents.ts';
export type { ChainBlock, ChainLog, LogFilter, BlockCursor } from './chain/types.ts';
export { RpcDataError, type RpcDataErrorDetails } from './chain/RpcDataError.ts';
export type { RpcStats, RpcCount, RpcPurpose } from './chain/RpcStats.ts';
