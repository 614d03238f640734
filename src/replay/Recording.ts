import { MAX_RECORDING_LINE_BYTES } from '../limits/defaults.ts';
import { isTypedArrayName, TYPED_ARRAYS } from '../runtime/typedArrays.ts';
import type { SignalData } from '../signals/signalFromData.ts';
import type { JournaledComponent, JournaledHostCall, JournaledInvocation } from '../runtime/CallJournal.ts';
import type { GuestOutput } from '../wasi/WasiConfig.ts';
import { ReplayError } from './ReplayError.ts';
import type { WasiCall } from '../wasi/WasiHost.ts';

/**
 * A recorded run: what each component was, and every invocation with its arguments, every host call
 * it made (embedder imports: store, chain, http, cow-api… with their answers) and every WASI answer that
 * depends on the world (clock reads, random), and how it ended. `corral replay` runs the invocations
 * again against these answers, with no chain, network or store. Written by `encodeRecording` (below).
 */
export interface Recording {
  corral: 'recording';
  version: 1;
  components: Record<string, RecordedComponent>;
  invocations: RecordedInvocation[];
  /** Set when the file's last line was cut off (the recording process died writing it) and was left out. */
  truncated?: true;
}

/** What the runtime journals of a component at load (runtime/CallJournal.ts), as the recording keeps it. */
export type RecordedComponent = JournaledComponent;

/** An invocation as the runtime journals it (runtime/CallJournal.ts), and how it ended, as data. */
export interface RecordedInvocation extends JournaledInvocation {
  outcome: RecordedOutcome;
}

export type RecordedHostCall = JournaledHostCall;

/** `wasi:clocks/wall-clock#now`, `wasi:random/random#get-random-bytes`, … with what the guest asked and got. */
export type RecordedWasiCall = WasiCall;

/** How it ended, with what a WASI guest wrote (compared too). Host-error stacks are not kept. */
export type RecordedOutcome = ({ ok: true; value: unknown; fuelUsed: number } | { ok: false; signal: SignalData }) & { output?: GuestOutput };

/**
 * A recording on disk is JSON Lines, so a long run can be written as it goes (a crash leaves every
 * complete line) and read back line by line: a header `{"corral":"recording","version":1}`, then one
 * `{"component":{name,…}}` line per component (before its first invocation) and one
 * `{"invocation":{…}}` line per invocation. Values jco's glue uses that JSON lacks (bigints, typed
 * arrays, `undefined`, which is an `option` that is none) are tagged objects, read back as themselves.
 */
export const RECORDING_HEADER = { corral: 'recording', version: 1 } as const;

export function encodeLine(value: unknown): string {
  return `${JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    const raw = (this as Record<string, unknown>)[key];
    if (raw === undefined && key !== '') return { $undefined: true };
    if (typeof raw === 'bigint') return { $bigint: raw.toString() };
    // JSON has no NaN, infinities or -0: as text, they would come back as null and 0.
    if (typeof raw === 'number' && (!Number.isFinite(raw) || Object.is(raw, -0))) return { $number: Object.is(raw, -0) ? '-0' : String(raw) };
    // Bytes (a Buffer is what the store answers) as base64; other typed arrays element by element.
    if (raw instanceof Uint8Array) return { $bytes: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
    if (ArrayBuffer.isView(raw) && !(raw instanceof DataView)) return { $typed: raw.constructor.name, data: Array.from(raw as unknown as ArrayLike<number>) };
    return v;
  })}\n`;
}

export function encodeRecording(recording: Recording): string {
  const lines = [encodeLine(RECORDING_HEADER)];
  const written = new Set<string>();
  for (const invocation of recording.invocations) {
    if (!written.has(invocation.component)) {
      written.add(invocation.component);
      lines.push(encodeLine({ component: { name: invocation.component, ...recording.components[invocation.component] } }));
    }
    lines.push(encodeLine({ invocation }));
  }
  return lines.join('');
}

/** What `$undefined` revives to: JSON.parse deletes a property revived as `undefined` (and leaves a hole in a list). */
const UNDEFINED = Symbol('undefined');

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const v = value as Record<string, unknown>;
  if (v.$undefined === true) return UNDEFINED;
  if (typeof v.$bigint === 'string') return BigInt(v.$bigint);
  if (typeof v.$number === 'string') return Number(v.$number);
  if (typeof v.$bytes === 'string') return new Uint8Array(Buffer.from(v.$bytes, 'base64'));
  if (typeof v.$typed === 'string' && Array.isArray(v.data)) {
    if (!isTypedArrayName(v.$typed)) throw new Error(`unknown typed array ${v.$typed}`);
    // Elements of 64-bit arrays were written as tagged bigints and are bigints again here.
    return (TYPED_ARRAYS[v.$typed] as { from(values: unknown[]): unknown }).from(v.data);
  }
  return value;
}

/**
 * Reads a recording; a file that is not one is a ReplayError naming the file, the line and what is
 * wrong. A cut-off last line (the recording process died writing it) is left out and flagged. A line
 * longer than `maxLineBytes` is refused before it is parsed (`line-too-long`): parsing costs many
 * times a line's size (a `$typed` array's elements ~25×: a 40 MB line took 1 GB).
 */
export function decodeRecording(text: string, source: string, options: { maxLineBytes?: number } = {}): Recording {
  const maxLineBytes = options.maxLineBytes ?? MAX_RECORDING_LINE_BYTES;
  const notOne = (line: number, what: string) => new ReplayError('not-a-recording', `${source} is not a corral recording: line ${line}: ${what}`, { source, line });
  const lines = text.split('\n');
  const complete = text.endsWith('\n');
  const parse = (line: string, n: number): Record<string, unknown> | null => {
    // UTF-16 units first (cheap, and never more than the bytes); bytes only for a line near the bound.
    if (line.length > maxLineBytes || (line.length * 3 > maxLineBytes && Buffer.byteLength(line) > maxLineBytes)) {
      throw new ReplayError('line-too-long', `${source}: line ${n} is longer than ${maxLineBytes} bytes`, { source, line: n, limitBytes: maxLineBytes });
    }
    try {
      const value = restoreUndefined(JSON.parse(line, reviver));
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
      return value as Record<string, unknown>;
    } catch (cause) {
      if (n === lines.length && !complete && n > 1) return null; // the cut-off last line
      throw notOne(n, (cause as Error).message);
    }
  };
  const header = lines[0]?.trim() ? parse(lines[0], 1) : null;
  if (!header || header.corral !== 'recording') throw notOne(1, `the first line must be ${JSON.stringify(RECORDING_HEADER)}`);
  if (header.version !== 1) throw notOne(1, `version ${JSON.stringify(header.version)} is not one this corral reads (1)`);
  const recording: Recording = { corral: 'recording', version: 1, components: Object.create(null) as Record<string, RecordedComponent>, invocations: [] };
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    const entry = parse(lines[i]!, i + 1);
    if (entry === null) {
      recording.truncated = true;
      break;
    }
    if (entry.component !== undefined) {
      const { name, ...component } = entry.component as RecordedComponent & { name: unknown };
      const limits = component.limits as Partial<RecordedComponent['limits']> | undefined;
      if (typeof name !== 'string' || typeof component.sha256 !== 'string' || !limits || ![limits.fuel, limits.timeoutMs, limits.memoryBytes].every((n) => typeof n === 'number')) {
        throw notOne(i + 1, 'a component needs name, sha256 and limits { fuel, timeoutMs, memoryBytes }');
      }
      recording.components[name] = component;
      continue;
    }
    const inv = entry.invocation as Partial<RecordedInvocation> | undefined;
    const outcome = inv?.outcome as Partial<{ ok: unknown; signal: { signal?: unknown } }> | undefined;
    const outcomeOk = outcome !== undefined && (outcome.ok === true || (outcome.ok === false && typeof outcome.signal?.signal === 'string'));
    if (!inv || typeof inv.component !== 'string' || !Object.hasOwn(recording.components, inv.component) || typeof inv.export !== 'string' || !Array.isArray(inv.args) || !Array.isArray(inv.hostCalls) || !Array.isArray(inv.wasiCalls) || !outcomeOk || typeof inv.fuel !== 'number' || typeof inv.timeoutMs !== 'number') {
      throw notOne(i + 1, 'neither a component nor a well-formed invocation (component, listed before it; export, args, fuel, timeoutMs, hostCalls, wasiCalls, outcome with ok, and signal when not ok)');
    }
    recording.invocations.push(inv as RecordedInvocation);
  }
  return recording;
}

/** Puts back the `undefined`s: a property or element that holds one, as the guest's value did. */
function restoreUndefined(value: unknown): unknown {
  if (value === UNDEFINED) return undefined;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  const container = value as Record<string, unknown>;
  for (const key of Object.keys(container)) container[key] = restoreUndefined(container[key]);
  return value;
}
