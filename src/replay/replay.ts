import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { HIGH_RESOURCE_JOB_LIMITS, MAX_COMPONENT_BYTES } from '../limits/defaults.ts';
import type { HostLimitName } from '../limits/hostCaps.ts';
import type { Component, Limits } from '../runtime/Component.ts';
import { FileRefused, readBoundedFile } from '../config/readBoundedFile.ts';
import type { HostImports } from '../runtime/HostImports.ts';
import { HostFault } from '../errors/HostFault.ts';
import { HostLimitError } from '../errors/HostLimitError.ts';
import type { Runtime } from '../runtime/Runtime.ts';
import type { SignalData } from '../signals/signalFromData.ts';
import type { WasiCall } from '../wasi/WasiHost.ts';
import { embedderImports } from '../wasi/wasiPolicy.ts';
import { ReplayError } from './ReplayError.ts';
import type { RecordedHostCall, RecordedInvocation, Recording } from './Recording.ts';

export interface ReplayOptions {
  /** Component files to replay instead of the recorded ones, by component name (a new version of it). */
  components?: Record<string, string>;
  /**
   * The most any recorded limit may be: a recording is a file someone wrote, and its limits are
   * clamped to these (a recorded fuel of 9e15 and a deadline of 2³¹ ms would run for weeks).
   * Default `REPLAY_MAX_LIMITS`. A replay under a clamped limit that the recording needed shows as
   * an outcome difference, never as a run without end.
   */
  maxLimits?: Limits;
}

/** The widest limits a replay runs under: the widest any engine grants (`HIGH_RESOURCE_JOB_LIMITS`). */
export const REPLAY_MAX_LIMITS: Readonly<Limits> = HIGH_RESOURCE_JOB_LIMITS;

/** Where a replay first left the recording. */
export interface ReplayDifference {
  /** Index of the invocation in the recording, with its component and export. */
  invocation: number;
  component: string;
  export: string;
  /**
   * `host-call`: the guest called another function, other arguments, or fewer calls (`call`: which);
   * `wasi-call`: it asked WASI's clocks, random or poll otherwise than recorded (the message says how);
   * `outcome`: its result, fuel, output or signal differ (`fields`: which).
   */
  kind: 'host-call' | 'wasi-call' | 'outcome';
  call?: number;
  fields?: string[];
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
  /** The recording's last line was cut off (the recording process died while writing it) and was left out. */
  truncated?: true;
  firstDifference?: ReplayDifference;
}

/** Thrown into the replayed guest when it leaves the recording: the host has no answer for it. */
class ReplayDiverged extends Error {
  override readonly name = 'ReplayDiverged';
}

/** Thrown into the replayed guest where its recorded invocation was cut short: it ends there too. */
class ReplayCutShort extends Error {
  override readonly name = 'ReplayCutShort';
}

/**
 * Runs a recording again: each invocation in order, on a fresh instance of its component (the recorded
 * file, checked against its recorded sha256, or `options.components[name]`), with its recorded fuel,
 * deadline and WASI configuration, every host call answered from the recording and WASI's clocks,
 * random and polls too. No chain, network or store is touched. Stops at the first difference.
 */
export async function replay(recording: Recording, runtime: Runtime, options: ReplayOptions = {}): Promise<ReplayReport> {
  for (const name of Object.keys(options.components ?? {})) {
    if (!Object.hasOwn(recording.components, name)) {
      throw new ReplayError('unknown-component', `the recording has no component ${name}; it has ${Object.keys(recording.components).join(', ')}`, { component: name });
    }
  }
  const max = options.maxLimits ?? REPLAY_MAX_LIMITS;
  const loaded = new Map<string, Component>();
  let hostCalls = 0;
  let cutShortCount = 0;
  const report = (fields: Partial<ReplayReport>): ReplayReport => ({ invocations: 0, hostCalls, cutShort: cutShortCount, identical: true, ...(recording.truncated ? { truncated: true as const } : {}), ...fields });
  try {
    for (const [index, invocation] of recording.invocations.entries()) {
      let component = loaded.get(invocation.component);
      if (!component) loaded.set(invocation.component, (component = await load(recording, invocation.component, runtime, options, max)));
      const made: RecordedHostCall[] = [];
      const short = cutShort(invocation.outcome);
      if (short) cutShortCount++;
      const imports = replayImports(component, invocation.hostCalls, made, short);
      const wasiAnswers: { calls: WasiCall[]; used?: number } = { calls: invocation.wasiCalls };
      const call = { fuel: clamp(invocation.fuel, max.fuel), timeoutMs: clamp(invocation.timeoutMs, max.timeoutMs), imports, invocationId: invocation.invocationId, wasiAnswers };
      const outcome = invocation.each
        ? await component.invokeEach(invocation.export, invocation.args as unknown[][], { ...call, stopAt: invocation.each })
        : await component.invoke(invocation.export, invocation.args, call);
      hostCalls += made.length;
      const where = { invocation: index, component: invocation.component, export: invocation.export };
      // A cut-short invocation ends at the call past its recording: that one is not a difference.
      const diverged = firstDivergence(invocation.hostCalls, short ? made.slice(0, invocation.hostCalls.length) : made);
      if (diverged !== null) {
        return report({ invocations: index + 1, identical: false, firstDifference: { ...where, kind: 'host-call', call: diverged, expected: invocation.hostCalls[diverged] ?? null, actual: made[diverged] ?? null } });
      }
      const actual: RecordedInvocation['outcome'] = outcome.ok
        ? { ok: true, value: outcome.value, fuelUsed: outcome.fuelUsed, ...(outcome.output ? { output: outcome.output } : {}) }
        : { ok: false, signal: outcome.signal.toData(), ...(outcome.output ? { output: outcome.output } : {}) };
      const wasiDiverged = !actual.ok && actual.signal.signal === 'Trap' && actual.signal.hostError?.name === 'WasiReplayDiverged';
      if (wasiDiverged || (!short && wasiAnswers.used !== undefined && wasiAnswers.used < invocation.wasiCalls.length)) {
        const message = wasiDiverged ? (actual as { signal: { message: string } }).signal.message : `the replayed guest made ${wasiAnswers.used} of the ${invocation.wasiCalls.length} recorded WASI calls`;
        return report({ invocations: index + 1, identical: false, firstDifference: { ...where, kind: 'wasi-call', expected: invocation.wasiCalls.length, actual: message } });
      }
      const fields = short ? [] : differingFields(invocation.outcome, actual);
      if (fields.length > 0) {
        return report({ invocations: index + 1, identical: false, firstDifference: { ...where, kind: 'outcome', fields, expected: invocation.outcome, actual } });
      }
    }
    return report({ invocations: recording.invocations.length });
  } finally {
    for (const component of loaded.values()) component.close();
  }
}

async function load(recording: Recording, name: string, runtime: Runtime, options: ReplayOptions, max: Limits): Promise<Component> {
  const recorded = recording.components[name]!;
  const override = options.components?.[name];
  const file = override ?? recorded.path;
  if (!file) throw new ReplayError('component-unknown', `the recording does not say where component ${name} came from: name its file (--component ${name}=PATH)`, { component: name });
  // The recorded path is read once, as a regular file of bounded size, and those bytes are what is
  // hashed and loaded: a FIFO hung the replay, /dev/zero grew it to GiBs, and a file swapped after the
  // hash would have been loaded unchecked.
  let source: string | Uint8Array = file;
  if (!override) {
    let bytes: Buffer;
    try {
      bytes = await readBoundedFile(file, MAX_COMPONENT_BYTES);
    } catch (cause) {
      if (cause instanceof FileRefused) {
        throw new ReplayError('component-refused', `component ${name} was recorded from ${file}: ${cause.message}; name its file (--component ${name}=PATH)`, { component: name, path: file, reason: cause.reason }, cause);
      }
      throw new ReplayError('component-missing', `component ${name} was recorded from ${file}, which cannot be read (${(cause as Error).message}): name its file (--component ${name}=PATH)`, { component: name, path: file });
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== recorded.sha256) {
      throw new ReplayError('component-changed', `${file} is not the component ${name} was recorded with (sha256 ${sha256}, recorded ${recorded.sha256}); to replay against it on purpose, name it (--component ${name}=PATH)`, { component: name, path: file });
    }
    source = bytes;
  }
  const wasi = recorded.wasi;
  return runtime.load(source, {
    name,
    limits: { fuel: clamp(recorded.limits.fuel, max.fuel), timeoutMs: clamp(recorded.limits.timeoutMs, max.timeoutMs), memoryBytes: clamp(recorded.limits.memoryBytes, max.memoryBytes) },
    imports: replayImports(null, [], []), // placeholders; each invocation binds its own
    pool: { maxUses: 1 },
    ...(wasi
      ? {
          wasi: {
            env: Object.fromEntries(wasi.env),
            args: wasi.args,
            dirs: Object.fromEntries(wasi.dirs.map((d) => [d.guestPath, d.hostPath])),
            outputBytes: wasi.outputBytes,
            ...(wasi.deterministic ? { deterministic: { seed: BigInt(wasi.deterministic.seed), startMs: wasi.deterministic.startMs, stepNs: wasi.deterministic.stepNs } } : {}),
          },
        }
      : {}),
    ...(recorded.initializer ? { initializer: { export: recorded.initializer.exportPath.join('.'), args: recorded.initializer.args } } : {}),
  });
}

/** A recorded limit within its maximum; one that is not a number at all becomes the maximum. */
function clamp(recorded: number, max: number): number {
  return Number.isFinite(recorded) ? Math.min(recorded, max) : max;
}

/**
 * Host functions answering from `recorded` in order and logging what the guest asked into `made`.
 * With no component (at load), a proxy that provides every import and answers nothing.
 */
function replayImports(component: Component | null, recorded: RecordedHostCall[], made: RecordedHostCall[], short = false): HostImports {
  const answer = (label: string) => (...args: unknown[]) => {
    const at = made.length;
    made.push({ fn: label, args });
    const expected = recorded[at];
    if (!expected && short) throw new ReplayCutShort(`the recorded invocation was cut short before host call ${at}`);
    if (!expected || expected.fn !== label || !isDeepStrictEqual(expected.args, args)) {
      throw new ReplayDiverged(`host call ${at} is ${label}, the recording has ${expected ? expected.fn : 'none'}`);
    }
    const unanswered = !Object.hasOwn(expected, 'result') && expected.fault === undefined && !expected.limit && !expected.error;
    if (unanswered && short && at === recorded.length - 1) throw new ReplayCutShort(`the recorded invocation was cut short waiting for host call ${at}`);
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

/** The fields of two outcomes that differ; the invocation id, timings and stacks do not count. */
function differingFields(expected: RecordedInvocation['outcome'], actual: RecordedInvocation['outcome']): string[] {
  if (expected.ok !== actual.ok) return ['ok'];
  const fields: string[] = [];
  if (!isDeepStrictEqual(expected.output, actual.output)) fields.push('output');
  if (expected.ok && actual.ok) {
    if (!isDeepStrictEqual(expected.value, actual.value)) fields.push('value');
    if (expected.fuelUsed !== actual.fuelUsed) fields.push('fuelUsed');
    return fields;
  }
  const plain = (signal: SignalData) => {
    const { invocationId: _id, elapsedMs: _elapsed, hostError, ...rest } = signal as SignalData & { elapsedMs?: number; hostError?: { stack?: string } };
    if (!hostError) return rest;
    const { stack: _stack, ...error } = hostError;
    return { ...rest, hostError: error };
  };
  const [a, b] = [plain((expected as { signal: SignalData }).signal), plain((actual as { signal: SignalData }).signal)];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!isDeepStrictEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) fields.push(`signal.${key}`);
  }
  return fields;
}
