import { isDeepStrictEqual } from 'node:util';
import type { CallOutcome } from '../runtime/Component.ts';
import type { Write } from '../store/EngineStore.ts';
import { isReserved } from '../store/reservedKeys.ts';

/**
 * One way a candidate's step left the live module's (docs/shadow.md), live value first:
 * - `request`: its `index`-th outbound call (chain, http, cow-api; a timer or an enqueue) is another
 *   function or has other arguments, or one side made fewer calls (`null`);
 * - `outcome`: `ok` (per event of a chain step: `"ok"` or `{ err }`), or the signal that ended it;
 * - `write`: the first of the module's own keys (byte order) written otherwise, `null` for no write;
 * - `fuel`: the fuel used, when it differs by more than the tolerance.
 */
export interface ShadowDifference {
  kind: 'request' | 'outcome' | 'write' | 'fuel';
  index?: number;
  key?: string;
  live: unknown;
  candidate: unknown;
}

/** A step the candidate handled otherwise: the first difference of each kind, requests first. */
export interface ShadowStep {
  /** The step's number among those shadowed since the module was loaded (1 is the first). */
  step: number;
  /** When the candidate ran it (the engine's clock, ms). */
  at: number;
  /** `custom`, `timer`, `schedule`, or `chain` with its block. */
  event: string;
  block?: string;
  differences: ShadowDifference[];
}

/** What `engine.shadowReport(name)` and `corral inspect` show of a shadow run. */
export interface ShadowReport {
  module: string;
  candidate: { component: string; sha256: string };
  /** Steps shadowed with no difference, with one, not shadowed (the queue was full), or whose candidate run could not start. */
  steps: { same: number; different: number; skipped: number; failed: number };
  /** The first `keepDifferences` steps that differed. */
  differences: ShadowStep[];
}

/** A host call as compared: its `interface#function` and arguments. */
export interface OutboundCall {
  fn: string;
  args: unknown[];
}

/** A call's outcome as compared: `{ ok }` with each event's `"ok"` or `{ err }`, or `{ signal }`. */
export function outcomeOf(called: CallOutcome): unknown {
  if (!called.ok) return { signal: called.signal.name };
  const one = (value: unknown) => ((value as { tag?: string } | undefined)?.tag === 'err' ? { err: (value as { val?: unknown }).val } : 'ok');
  return { ok: Array.isArray(called.value) ? called.value.map(one) : one(called.value) };
}

export const fuelOf = (called: CallOutcome): number => (called.ok ? called.fuelUsed : 'fuelUsed' in called.signal && typeof called.signal.fuelUsed === 'number' ? called.signal.fuelUsed : 0);

/** The step's differences, at most one of each kind, in the order the type lists them. */
export function compareSteps(
  live: { calls: readonly OutboundCall[]; outcome: unknown; writes: readonly Write[]; fuel: number },
  candidate: { calls: readonly OutboundCall[]; outcome: unknown; writes: readonly Write[]; fuel: number },
  fuelTolerance: number,
  cut: (value: unknown) => unknown,
): ShadowDifference[] {
  const differences: ShadowDifference[] = [];
  const calls = Math.max(live.calls.length, candidate.calls.length);
  for (let i = 0; i < calls; i++) {
    const [a, b] = [live.calls[i], candidate.calls[i]];
    if (a && b && sameCall(a, b)) continue;
    differences.push({ kind: 'request', index: i, live: a ? cut({ fn: a.fn, args: a.args }) : null, candidate: b ? cut({ fn: b.fn, args: b.args }) : null });
    break;
  }
  if (!isDeepStrictEqual(live.outcome, candidate.outcome)) differences.push({ kind: 'outcome', live: live.outcome, candidate: candidate.outcome });
  const write = firstWriteDifference(live.writes, candidate.writes);
  if (write) differences.push({ kind: 'write', key: keyText(write.key), live: cut(valueText(write.live)), candidate: cut(valueText(write.candidate)) });
  if (Math.abs(candidate.fuel - live.fuel) > fuelTolerance * live.fuel) differences.push({ kind: 'fuel', live: live.fuel, candidate: candidate.fuel });
  return differences;
}

export function sameCall(a: OutboundCall, b: OutboundCall): boolean {
  return a.fn === b.fn && isDeepStrictEqual(a.args, b.args);
}

/**
 * The first of the module's own keys (reserved keys are corral's: a task's key is random, and timers
 * tasks and outbox messages are compared as the calls that staged them) that one side writes otherwise.
 */
function firstWriteDifference(live: readonly Write[], candidate: readonly Write[]): { key: Uint8Array; live: Uint8Array | null | undefined; candidate: Uint8Array | null | undefined } | undefined {
  const own = (writes: readonly Write[]) => new Map(writes.filter((w) => !isReserved(w.key)).map((w) => [Buffer.from(w.key).toString('latin1'), w]));
  const [a, b] = [own(live), own(candidate)];
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => Buffer.compare(Buffer.from(x, 'latin1'), Buffer.from(y, 'latin1')));
  for (const id of keys) {
    const [x, y] = [a.get(id), b.get(id)];
    if (x && y && (x.value === null ? y.value === null : y.value !== null && Buffer.compare(x.value, y.value) === 0)) continue;
    return { key: Buffer.from(id, 'latin1'), live: x ? x.value : undefined, candidate: y ? y.value : undefined };
  }
  return undefined;
}

/** Bytes as text when they are printable UTF-8, else `0x…`. */
function keyText(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('utf8');
  return /^[\x20-\x7e\u00a0-\uffff]*$/.test(text) && !text.includes('\ufffd') ? text : `0x${Buffer.from(bytes).toString('hex')}`;
}

/** A write's value as shown: its text, `{ deleted: true }`, or `null` when that side did not write the key. */
function valueText(value: Uint8Array | null | undefined): unknown {
  if (value === undefined) return null;
  if (value === null) return { deleted: true };
  return keyText(value);
}

/** A value as a report keeps it: JSON-safe (bigints and bytes as text), cut to `chars` characters of JSON. */
export function cutter(chars: number): (value: unknown) => unknown {
  return (value) => {
    const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? keyText(v) : v));
    if (json === undefined) return null;
    if (json.length <= chars) return JSON.parse(json) as unknown;
    return { cut: json.slice(0, chars), chars: json.length };
  };
}
