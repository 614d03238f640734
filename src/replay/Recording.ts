import type { SignalData } from '../signals/signalFromData.ts';
import type { WasiConfig } from '../wasi/WasiConfig.ts';

/**
 * A recorded run: what each component was, and every invocation with its arguments, every host call
 * it made (embedder imports: store, chain, http, cow-api… with their answers) and every WASI answer that
 * depends on the world (clock reads, random), and how it ended. `corral replay` runs the invocations
 * again against these answers, with no chain, network or store. Written as JSON by `encodeRecording`.
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
 * JSON with the values jco's glue uses that JSON lacks: bigints, typed arrays and `undefined` (an
 * `option` that is none) are written as tagged objects and read back as themselves.
 */
export function encodeRecording(recording: Recording): string {
  return JSON.stringify(recording, function (this: unknown, key: string, value: unknown) {
    const raw = (this as Record<string, unknown>)[key];
    if (raw === undefined && key !== '') return { $undefined: true };
    if (typeof raw === 'bigint') return { $bigint: raw.toString() };
    // A Buffer (what the store answers) is bytes to the guest: it is read back as a Uint8Array.
    if (ArrayBuffer.isView(raw) && !(raw instanceof DataView)) return { $typed: Buffer.isBuffer(raw) ? 'Uint8Array' : raw.constructor.name, data: Array.from(raw as unknown as ArrayLike<number>) };
    return value;
  });
}

const TYPED: Record<string, { from(values: number[]): unknown }> = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigInt64Array: { from: (v: number[]) => BigInt64Array.from(v.map(BigInt)) },
  BigUint64Array: { from: (v: number[]) => BigUint64Array.from(v.map(BigInt)) },
};

/** Reads a recording written by `encodeRecording`; a file that is not one is an Error saying what is wrong. */
export function decodeRecording(text: string, source: string): Recording {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, (_key, value: unknown) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
      const v = value as Record<string, unknown>;
      if (v.$undefined === true) return undefined;
      if (typeof v.$bigint === 'string') return BigInt(v.$bigint);
      if (typeof v.$typed === 'string' && Array.isArray(v.data)) {
        const typed = TYPED[v.$typed];
        if (!typed) throw new Error(`unknown typed array ${v.$typed}`);
        return typed.from(v.data as number[]);
      }
      return value;
    });
  } catch (cause) {
    throw new Error(`${source} is not a corral recording: ${(cause as Error).message}`);
  }
  const r = parsed as Partial<Recording> | null;
  if (!r || r.corral !== 'recording' || r.version !== 1 || typeof r.components !== 'object' || !Array.isArray(r.invocations)) {
    throw new Error(`${source} is not a corral recording (version 1): it lacks corral: "recording", version, components or invocations`);
  }
  for (const [i, inv] of r.invocations.entries()) {
    if (!inv || typeof inv.component !== 'string' || !r.components[inv.component] || typeof inv.export !== 'string' || !Array.isArray(inv.args) || !Array.isArray(inv.hostCalls) || !Array.isArray(inv.wasiCalls)) {
      throw new Error(`${source}: invocation ${i} is malformed (component, export, args, hostCalls and wasiCalls are required, and the component must be listed)`);
    }
  }
  return r as Recording;
}
