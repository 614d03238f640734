import { isDeepStrictEqual } from 'node:util';
import type { Component } from '../runtime/Component.ts';
import type { HostImports } from '../runtime/hostBridge.ts';
import { HostFault, HostLimitError } from '../runtime/hostErrors.ts';
import type { Runtime } from '../runtime/Runtime.ts';
import type { HostLimitName } from '../limits/hostCaps.ts';
import { embedderImports } from '../wasi/wasiInterfaces.ts';
import type { RecordedHostCall, RecordedInvocation, Recording } from './Recording.ts';

export interface ReplayOptions {
  /** Component files to replay instead of the recorded ones, by component name (a new version of it). */
  components?: Record<string, string>;
}

/** Where a replay first left the recording. */
export interface ReplayDifference {
  /** Index of the invocation in the recording, with its component and export. */
  invocation: number;
  component: string;
  export: string;
  /** `host-call`: the guest called another function, or with other arguments; `outcome`: its result, fuel or signal differ. */
  kind: 'host-call' | 'outcome';
  /** For `host-call`: its position among the invocation's host calls. */
  call?: number;
  expected: unknown;
  actual: unknown;
}

export interface ReplayReport {
  invocations: number;
  hostCalls: number;
  /**
   * Recorded invocations cut short by time or from outside (ExecutionTimeout; a kill; their worker
   * dying): wall-clock luck, not behaviour. Their host calls are compared up to where the recording
   * stops, and they end there; their outcome is not compared.
   */
  cutShort: number;
  identical: boolean;
  firstDifference?: ReplayDifference;
}

/** Thrown into the replayed guest when it leaves the recording: the host has no answer for it. */
class ReplayDiverged extends Error {
  override readonly name = 'ReplayDiverged';
}

/** Thrown into the replayed guest where its recorded invocation ran out of time: it ends there too. */
class ReplayTimedOut extends Error {
  override readonly name = 'ReplayTimedOut';
}

/**
 * Runs a recording again: each invocation in order, on a fresh instance of its component (the recorded
 * file, or `options.components[name]`), with its recorded fuel and deadline, every host call answered
 * from the recording and WASI's clocks and random too. No chain, network or store is touched. Stops at
 * the first difference: a host call the recording does not have (another function, other arguments),
 * a missing one, or another result, fuel or signal. An invocation recorded as ExecutionTimeout is not
 * reproducible by nature (see `ReplayReport.cutShort`).
 */
export async function replay(recording: Recording, runtime: Runtime, options: ReplayOptions = {}): Promise<ReplayReport> {
  const loaded = new Map<string, Component>();
  let hostCalls = 0;
  let cutShortCount = 0;
  for (const [index, invocation] of recording.invocations.entries()) {
    const component = loaded.get(invocation.component) ?? (await load(recording, invocation.component, runtime, options));
    loaded.set(invocation.component, component);
    const made: RecordedHostCall[] = [];
    const timedOut = cutShort(invocation.outcome);
    if (timedOut) cutShortCount++;
    const imports = replayImports(component, invocation.hostCalls, made, timedOut);
    const call = { fuel: invocation.fuel, timeoutMs: invocation.timeoutMs, imports, invocationId: invocation.invocationId, wasiAnswers: invocation.wasiCalls };
    const outcome = invocation.each
      ? await component.invokeEach(invocation.export, invocation.args as unknown[][], { ...call, stopAt: invocation.each })
      : await component.invoke(invocation.export, invocation.args, call);
    hostCalls += made.length;
    const where = { invocation: index, component: invocation.component, export: invocation.export };
    // A timed-out invocation ends at the call past its recording: that one is not a difference.
    const diverged = firstDivergence(invocation.hostCalls, timedOut ? made.slice(0, invocation.hostCalls.length) : made);
    if (diverged !== null) {
      return { invocations: index + 1, hostCalls, cutShort: cutShortCount, identical: false, firstDifference: { ...where, kind: 'host-call', call: diverged, expected: invocation.hostCalls[diverged] ?? null, actual: made[diverged] ?? null } };
    }
    const actual: RecordedInvocation['outcome'] = outcome.ok ? { ok: true, value: outcome.value, fuelUsed: outcome.fuelUsed } : { ok: false, signal: outcome.signal.toData() };
    if (!timedOut && !sameOutcome(invocation.outcome, actual)) {
      return { invocations: index + 1, hostCalls, cutShort: cutShortCount, identical: false, firstDifference: { ...where, kind: 'outcome', expected: invocation.outcome, actual } };
    }
  }
  for (const component of loaded.values()) component.close();
  return { invocations: recording.invocations.length, hostCalls, cutShort: cutShortCount, identical: true };
}

async function load(recording: Recording, name: string, runtime: Runtime, options: ReplayOptions): Promise<Component> {
  const recorded = recording.components[name]!;
  const file = options.components?.[name] ?? recorded.path;
  if (!file) throw new Error(`the recording does not say where component ${name} came from; name a file for it`);
  const hostImports = replayImports(null, [], []); // placeholders; each invocation binds its own
  return runtime.load(file, {
    name,
    limits: recorded.limits,
    imports: hostImports,
    pool: { maxUses: 1 },
    ...(recorded.wasi ? { wasi: { env: Object.fromEntries(recorded.wasi.env), args: recorded.wasi.args, dirs: Object.fromEntries(recorded.wasi.dirs.map((d) => [d.guestPath, d.hostPath])), outputBytes: recorded.wasi.outputBytes } } : {}),
    ...(recorded.initializer ? { initializer: { export: recorded.initializer.exportPath.join('.'), args: recorded.initializer.args } } : {}),
  });
}

/**
 * Host functions answering from `recorded` in order and logging what the guest asked into `made`.
 * With no component (at load), a proxy that provides every import and answers nothing.
 */
function replayImports(component: Component | null, recorded: RecordedHostCall[], made: RecordedHostCall[], timedOut = false): HostImports {
  const answer = (label: string) => (...args: unknown[]) => {
    const at = made.length;
    made.push({ fn: label, args });
    const expected = recorded[at];
    if (!expected && timedOut) throw new ReplayTimedOut(`the recorded invocation ran out of time before host call ${at}`);
    const unanswered = expected && !('result' in expected) && expected.fault === undefined && !expected.limit && !expected.error;
    if (unanswered && timedOut && at === recorded.length - 1 && expected.fn === label && isDeepStrictEqual(expected.args, args)) {
      throw new ReplayTimedOut(`the recorded invocation ran out of time waiting for host call ${at}`);
    }
    if (!expected || expected.fn !== label || !isDeepStrictEqual(expected.args, args)) {
      throw new ReplayDiverged(`host call ${at} is ${label}, the recording has ${expected ? expected.fn : 'none'}`);
    }
    if (expected.fault !== undefined) throw new HostFault(expected.fault);
    if (expected.limit) throw new HostLimitError(expected.limit.limit as HostLimitName, expected.limit.max, expected.limit.observed);
    if (expected.error) throw Object.assign(new Error(expected.error.message), { name: expected.error.name });
    return expected.result;
  };
  if (!component) {
    return new Proxy({}, { get: (_, iface: string) => new Proxy({}, { get: (_t, fn: string) => answer(`${iface}#${fn}`) }) }) as HostImports;
  }
  const imports: HostImports = {};
  for (const [iface, fns] of Object.entries(embedderImports(component.meta.imports))) {
    imports[iface] = Object.fromEntries(fns.map((fn) => [fn, answer(`${iface}#${fn}`)]));
  }
  return imports;
}

/** The index of the first host call that differs from the recording, or null when they all match. */
function firstDivergence(recorded: RecordedHostCall[], made: RecordedHostCall[]): number | null {
  for (let i = 0; i < Math.max(recorded.length, made.length); i++) {
    const a = recorded[i];
    const b = made[i];
    if (!a || !b || a.fn !== b.fn || !isDeepStrictEqual(a.args, b.args)) return i;
  }
  return null;
}

/** Whether an outcome says how long it ran or who stopped it rather than what the guest did. */
function cutShort(outcome: RecordedInvocation['outcome']): boolean {
  if (outcome.ok) return false;
  const { signal } = outcome;
  if (signal.signal === 'ExecutionTimeout') return true;
  // Runtime.kill and a worker that died under the call: the only Traps the guest did not cause.
  return signal.signal === 'Trap' && signal.code === 'unknown' && /^(killed by the embedder|worker thread failed)/.test(signal.message);
}

function sameOutcome(expected: RecordedInvocation['outcome'], actual: RecordedInvocation['outcome']): boolean {
  if (expected.ok !== actual.ok) return false;
  if (expected.ok && actual.ok) return expected.fuelUsed === actual.fuelUsed && isDeepStrictEqual(expected.value, actual.value);
  if (!expected.ok && !actual.ok) {
    // The invocation id and timings may differ; the signal and what it says may not.
    const strip = ({ invocationId: _id, elapsedMs: _e, ...rest }: Record<string, unknown>) => rest;
    return isDeepStrictEqual(strip(expected.signal as unknown as Record<string, unknown>), strip(actual.signal as unknown as Record<string, unknown>));
  }
  return false;
}
