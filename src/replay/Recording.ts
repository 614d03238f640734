import { isTypedArrayName, TYPED_ARRAYS } from '../runtime/typedArrays.ts';
import type { SignalData } from '../signals/signalFromData.ts';
import type { WasiConfig } from '../wasi/WasiConfig.ts';

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
}

export interface RecordedComponent {
  /** The component file as loaded, when it was loaded from a file. */
  path?: string;
  sha256: string;
  limits: { fuel: number; timeoutMs: number; memoryBytes: number };
  wasi?: WasiConfig;
  initializer?: { exportPath: string[]; args: unknown[] };
}

export interface RecordedInvocation {
  /** The component's name (a key of `components`). */
  component: string;
  invocationId: string;
  /** The export as it was called (`on-event`, `add`, `iface.fn`), and its arguments: the event or call that caused it. */
  export: string;
  args: unknown[];
  /** Set for `invokeEach`: `args` lists argument lists. */
  each?: 'signal' | 'err';
  fuel: number;
  timeoutMs: number;
  hostCalls: RecordedHostCall[];
  wasiCalls: RecordedWasiCall[];
  outcome: RecordedOutcome;
}

export interface RecordedHostCall {
  /** `interface#function`, as in signals. */
  fn: string;
  args: unknown[];
  /** What the host answered: a value, a fault (`err` of the import's result), a tripped cap, or an error. */
  result?: unknown;
  fault?: unknown;
  limit?: { limit: string; max: number; observed: number };
  error?: { name: string; message: string };
}

export interface RecordedWasiCall {
  /** `wasi:clocks/wall-clock#now`, `wasi:random/random#get-random-bytes`, … */
  fn: string;
  result: unknown;
}

export type RecordedOutcome = { ok: true; value: unknown; fuelUsed: number } | { ok: false; signal: SignalData };

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
    // A Buffer (what the store answers) is bytes to the guest: it is read back as a Uint8Array.
    if (ArrayBuffer.isView(raw) && !(raw instanceof DataView)) return { $typed: Buffer.isBuffer(raw) ? 'Uint8Array' : raw.constructor.name, data: Array.from(raw as unknown as ArrayLike<number>) };
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
  if (typeof v.$typed === 'string' && Array.isArray(v.data)) {
    if (!isTypedArrayName(v.$typed)) throw new Error(`unknown typed array ${v.$typed}`);
    // Elements of 64-bit arrays were written as tagged bigints and are bigints again here.
    return (TYPED_ARRAYS[v.$typed] as { from(values: unknown[]): unknown }).from(v.data);
  }
  return value;
}

/** Reads a recording; a file that is not one is an Error naming the file, the line and what is wrong. */
export function decodeRecording(text: string, source: string): Recording {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const parse = (line: string, n: number): Record<string, unknown> => {
    try {
      return restoreUndefined(JSON.parse(line, reviver)) as Record<string, unknown>;
    } catch (cause) {
      throw new Error(`${source} is not a corral recording: line ${n}: ${(cause as Error).message}`);
    }
  };
  const header = lines.length > 0 ? parse(lines[0]!, 1) : null;
  if (!header || header.corral !== 'recording' || header.version !== 1) {
    throw new Error(`${source} is not a corral recording (version 1): its first line must be ${JSON.stringify(RECORDING_HEADER)}`);
  }
  const recording: Recording = { corral: 'recording', version: 1, components: {}, invocations: [] };
  for (let i = 1; i < lines.length; i++) {
    const entry = parse(lines[i]!, i + 1);
    if (entry.component && typeof (entry.component as { name?: unknown }).name === 'string') {
      const { name, ...component } = entry.component as RecordedComponent & { name: string };
      recording.components[name] = component;
      continue;
    }
    const inv = entry.invocation as Partial<RecordedInvocation> | undefined;
    if (!inv || typeof inv.component !== 'string' || !recording.components[inv.component] || typeof inv.export !== 'string' || !Array.isArray(inv.args) || !Array.isArray(inv.hostCalls) || !Array.isArray(inv.wasiCalls) || !inv.outcome) {
      throw new Error(`${source}: line ${i + 1} is neither a component nor a well-formed invocation (component, listed before; export, args, hostCalls, wasiCalls, outcome)`);
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
