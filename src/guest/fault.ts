/// <reference path="./world.d.ts" />
import type { Fault as FaultValue } from 'corral:module/types@0.1.0';

export type FaultTag = FaultValue['tag'];

const TAGS: ReadonlySet<string> = new Set<FaultTag>(['denied', 'limit', 'not-found', 'invalid-input', 'upstream', 'internal']);

/**
 * A `fault` of corral's world as an Error: what an import refused (its `tag`) and why (`val`). A `query`
 * export answers with a fault by throwing `fault.toWit()`: componentize-qjs takes a plain `{ tag, val }` as
 * the `err`, and traps on an Error.
 */
export class Fault extends Error {
  readonly tag: FaultTag;
  readonly val: string;
  constructor(tag: FaultTag, val: string) {
    super(`${tag}: ${val}`);
    this.name = 'Fault';
    this.tag = tag;
    this.val = val;
  }

  /** The WIT value, for a `query` export to throw. */
  toWit(): FaultValue {
    return { tag: this.tag, val: this.val } as FaultValue;
  }

  /** The fault of what an import threw: componentize-qjs throws an `err` result as `{ payload: fault }`. */
  static of(error: unknown): Fault {
    if (error instanceof Fault) return error;
    const payload = error !== null && typeof error === 'object' && 'payload' in error ? (error as { payload: unknown }).payload : undefined;
    if (payload !== null && typeof payload === 'object' && TAGS.has(String((payload as FaultValue).tag))) {
      const { tag, val } = payload as FaultValue;
      return new Fault(tag, String(val));
    }
    return new Fault('internal', error instanceof Error ? error.message : String(error));
  }
}

/** Calls an import and returns its `ok`; its `err` is thrown as a `Fault`. */
export function unwrap<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw Fault.of(error);
  }
}
