import { describe, expect, it } from 'vitest';
import { ExecutionTimeout, HostLimitExceeded, MemoryLimitExceeded, OutOfFuel, SIGNAL_PRIORITY, Trap, signalFromData, type SignalData } from '../src/index.ts';

const context = { component: 'c', exportName: 'e', invocationId: 'i' };

describe('signals', () => {
  it.each<SignalData>([
    { signal: 'OutOfFuel', ...context, fuelLimit: 10, fuelUsed: 12 },
    { signal: 'ExecutionTimeout', ...context, timeoutMs: 5, elapsedMs: 6, fuelUsed: null, terminated: true },
    { signal: 'MemoryLimitExceeded', ...context, limitBytes: 65536, requestedBytes: 131072 },
    { signal: 'HostLimitExceeded', ...context, limit: 'storeOps', max: 256, observed: 257 },
    { signal: 'Trap', ...context, code: 'host-error', message: 'm', hostError: { name: 'TypeError', message: 'x' } },
  ])('behavior: $signal survives a structured clone as data and is rebuilt as its class', (data) => {
    const rebuilt = signalFromData(structuredClone(data));
    const expected = { OutOfFuel, ExecutionTimeout, MemoryLimitExceeded, HostLimitExceeded, Trap }[data.signal];
    expect(rebuilt).toBeInstanceOf(expected);
    expect(rebuilt.name).toBe(data.signal);
    expect(rebuilt.toData()).toEqual(data);
  });

  it('default: priority is fuel, then deadline, then memory, host limits and traps', () => {
    expect(SIGNAL_PRIORITY).toEqual(['OutOfFuel', 'ExecutionTimeout', 'MemoryLimitExceeded', 'HostLimitExceeded', 'Trap']);
  });
});
