import { describe, expect, it } from 'vitest';
import * as corral from '../../src/index.ts';

describe("the public API (import 'corral')", () => {
  it('default: exports the two ways in, what host functions use, record and replay, the signals and the errors, and no other value', () => {
    // A change here is a change of the public API: say why in the commit, and in docs/architecture.md.
    expect(Object.keys(corral).sort()).toEqual(
      [
        'createEngine',
        'Runtime',
        'invocationSignal',
        'InvocationEnded',
        'HostFault',
        'Recorder',
        'replay',
        'decodeRecording',
        'RuntimeSignal',
        'OutOfFuel',
        'ExecutionTimeout',
        'MemoryLimitExceeded',
        'HostLimitExceeded',
        'Trap',
        'CorralError',
        'LoadError',
        'CorralRuntimeError',
        'CheckoutError',
        'ConfigError',
        'EngineError',
        'ReplayError',
        // a hot swap that did not happen (`engine.replace`)
        'ReplaceError',
        // batch runs (docs/batch.md): the iterator, its summary, the input hash its lines carry, its errors
        'runBatch',
        'BatchSummary',
        'inputShaOf',
        'BatchError',
        // the names corral's traces use (docs/tracing.md)
        'TRACE_SPANS',
        'TRACE_ATTRIBUTES',
      ].sort(),
    );
  });

  it('behavior: every signal is a RuntimeSignal and every error a CorralError, so one instanceof catches each family', () => {
    for (const signal of [corral.OutOfFuel, corral.ExecutionTimeout, corral.MemoryLimitExceeded, corral.HostLimitExceeded, corral.Trap]) {
      expect(signal.prototype).toBeInstanceOf(corral.RuntimeSignal);
    }
    for (const error of [corral.LoadError, corral.CorralRuntimeError, corral.CheckoutError, corral.ConfigError, corral.EngineError, corral.ReplaceError, corral.ReplayError, corral.BatchError]) {
      expect(error.prototype).toBeInstanceOf(corral.CorralError);
    }
  });
});
