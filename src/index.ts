/**
 * corral's public API: the two ways in (`createEngine` for the engine, `Runtime` for any component),
 * record and replay, what a host function needs, the signals, the errors, and the types of their options,
 * events and results. Everything else under src/ is internal and may change; tests, benchmarks and
 * examples import it from its own module.
 */

// The engine, embedded: engine.toml's content as an object.
export { createEngine, type CorralEngine } from './app/createEngine.ts';
export type { EngineConfig } from './config/EngineConfig.ts';
export type { ModuleManifest } from './config/ModuleManifestSchema.ts';
export type { Trigger } from './config/TriggerSchema.ts';
export type { ChainConfig, RpcCacheConfig, RpcPoolConfig } from './bus/Bus.ts';
export type { Engine, ChainPosition, ChainStep, InvocationRecord, ModuleEvent, QueryResult } from './engine/Engine.ts';
// Hot swaps: `engine.replace` (docs/getting-started.md, "corral dev").
export type { CapabilityDiff, ProbationEnd, ReplaceOptions, Replacement } from './engine/Engine.ts';
// Tracing: the span and attribute names corral's traces use (docs/tracing.md).
export { SPAN as TRACE_SPANS, ATTR as TRACE_ATTRIBUTES, type Outcome as TraceOutcome, type HostOutcome as TraceHostOutcome } from './tracing/attributes.ts';
export type { JobStats } from './jobs/Jobs.ts';
export type { ActorInfo } from './actor/Actor.ts';
export type { ActorStateName, RestartType } from './actor/actorMachine.ts';
export type { ChainBlock, ChainLog, LogFilter, BlockCursor } from './chain/types.ts';
export type { RpcStats, RpcCount, RpcPurpose } from './chain/RpcStats.ts';
export type { Readiness, NotReady, NotReadyReason } from './metrics/readiness.ts';
export type { EndpointStats } from './chain/EndpointHealth.ts';
export type * from './actor/LifecycleSignal.ts';
export type * from './supervisor/SupervisorSignal.ts';

// The runtime: any component, under limits.
export { Runtime, type RuntimeOptions, type LoadOptions } from './runtime/Runtime.ts';
export type { Component, CallOptions, CallOutcome, CallSuccess, CallFailure, Limits } from './runtime/Component.ts';
export type { PoolOptions, PoolStats } from './runtime/InstancePool.ts';
export type { WasiOptions } from './wasi/resolveWasiConfig.ts';
export type { GuestOutput } from './wasi/WasiConfig.ts';

// What an embedder's host functions use: the invocation's AbortSignal, and a WIT `err` to return.
export { invocationSignal, InvocationEnded, type HostFunction, type HostImports } from './runtime/HostImports.ts';
export { HostFault } from './errors/HostFault.ts';

// Batch runs: many inputs of one export, in order (what `corral batch` runs).
export { runBatch, inputShaOf, type BatchLine, type BatchOptions } from './batch/runBatch.ts';
export { BatchSummary, type BatchSummaryReport, type Spread } from './batch/summary.ts';

// Record and replay.
export { Recorder } from './replay/Recorder.ts';
export { replay, type ReplayOptions, type ReplayReport, type ReplayDifference } from './replay/replay.ts';
export { decodeRecording, type Recording } from './replay/Recording.ts';

// Signals: how an invocation that ran guest code ends without a value.
export { RuntimeSignal, type InvocationContext } from './signals/RuntimeSignal.ts';
export { OutOfFuel, type OutOfFuelData } from './signals/OutOfFuel.ts';
export { ExecutionTimeout, type ExecutionTimeoutData } from './signals/ExecutionTimeout.ts';
export { MemoryLimitExceeded, type MemoryLimitExceededData } from './signals/MemoryLimitExceeded.ts';
export { HostLimitExceeded, type HostLimitExceededData } from './signals/HostLimitExceeded.ts';
export { Trap, type TrapCode, type TrapData, type HostErrorData } from './signals/Trap.ts';
export type { Signal, SignalData, SignalName } from './signals/signalFromData.ts';
export type { HostLimitName } from './limits/hostCaps.ts';

// Errors: what stops something before or outside guest code.
export { CorralError } from './errors/CorralError.ts';
export { LoadError, type LoadErrorCode } from './errors/LoadError.ts';
export { CorralRuntimeError, type RuntimeErrorCode } from './errors/RuntimeError.ts';
export { CheckoutError } from './runtime/InstancePool.ts';
export { ConfigError, type ConfigProblem, type ConfigProblemCode } from './errors/ConfigError.ts';
export { EngineError, type EngineErrorCode } from './errors/EngineError.ts';
export { ReplaceError, type ReplaceErrorCode } from './errors/ReplaceError.ts';
export { ReplayError, type ReplayErrorCode } from './replay/ReplayError.ts';
export { BatchError, type BatchErrorCode } from './errors/BatchError.ts';
