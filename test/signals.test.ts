import { describe, expect, it } from 'vitest';
import { ExecutionTimeout, HostLimitExceeded, MemoryLimitExceeded, OutOfFuel, Trap, type SignalData, type SignalName } from '../src/index.ts';
import { signalFromData, strongestSignal } from '../src/signals/signalFromData.ts';

const context = { component: 'c', exportName: 'e', invocationId: 'i' };

describe('signals', () => {
  it.each<SignalData>([
    { signal: 'OutOfFuel', ...context, fuelLimit: 10, fuelUsed: 12 },
    { signal: 'ExecutionTimeout', ...context, timeoutMs: 5, elapsedMs: 6, fuelUsed: null, terminated: true },
    { signal: 'MemoryLimitExceeded', ...context, resource: 'memory', limitBytes: 65536, requestedBytes: 131072 },
    { signal: 'MemoryLimitExceeded', ...context, resource: 'table', limitBytes: 65536, requestedBytes: 640_000_000 },
    { signal: 'HostLimitExceeded', ...context, limit: 'storeOps', max: 256, observed: 257 },
    { signal: 'Trap', ...context, code: 'host-error', message: 'm', hostError: { name: 'TypeError', message: 'x' } },
  ])('behavior: $signal survives a structured clone as data and is rebuilt as its class', (data) => {
    const rebuilt = signalFromData(structuredClone(data));
    const expected = { OutOfFuel, ExecutionTimeout, MemoryLimitExceeded, HostLimitExceeded, Trap }[data.signal];
    expect(rebuilt).toBeInstanceOf(expected);
    expect(rebuilt.name).toBe(data.signal);
    expect(rebuilt.toData()).toEqual(data);
  });

  it('behavior: MemoryLimitExceeded data from before tables were capped (no resource) is about memory', () => {
    const rebuilt = signalFromData({ signal: 'MemoryLimitExceeded', ...context, limitBytes: 65536, requestedBytes: 131072 }) as MemoryLimitExceeded;
    expect(rebuilt.resource).toBe('memory');
  });

  // The order the issue and docs/reference/signals.md promise: fuel, then the deadline, then memory, host limits, traps.
  const promised: SignalName[] = ['OutOfFuel', 'ExecutionTimeout', 'MemoryLimitExceeded', 'HostLimitExceeded', 'Trap'];

  it('behavior: of any two signals that apply to one invocation, the one promised first wins, in either order', () => {
    for (const [i, stronger] of promised.entries()) {
      for (const weaker of promised.slice(i + 1)) {
        expect(strongestSignal([{ signal: stronger }, { signal: weaker }]).signal, `${stronger} over ${weaker}`).toBe(stronger);
        expect(strongestSignal([{ signal: weaker }, { signal: stronger }]).signal, `${stronger} over ${weaker}, given second`).toBe(stronger);
      }
    }
  });

  it('behavior: among all five at once, in any rotation, OutOfFuel wins; without it, ExecutionTimeout', () => {
    for (let r = 0; r < promised.length; r++) {
      const rotated = [...promised.slice(r), ...promised.slice(0, r)].map((signal) => ({ signal }));
      expect(strongestSignal(rotated).signal).toBe('OutOfFuel');
      expect(strongestSignal(rotated.filter((c) => c.signal !== 'OutOfFuel')).signal).toBe('ExecutionTimeout');
    }
  });
});
