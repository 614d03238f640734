/// <reference path="./world.d.ts" />
// The module's store (grant `store`) with string keys, and values as bytes, text or JSON.
import { delete as rawDelete, get as rawGet, listKeys as rawListKeys, set as rawSet } from 'corral:module/store@0.1.0';
import { unwrap } from './fault.ts';
import { text, utf8 } from './utf8.ts';

/** Keys a `listKeys` page holds unless told otherwise. */
const PAGE = 64;

export function get(key: string): Uint8Array | undefined {
  // componentize-qjs gives a WIT option's none as null.
  return unwrap(() => rawGet(utf8(key))) ?? undefined;
}

export function getString(key: string): string | undefined {
  const value = get(key);
  return value === undefined ? undefined : text(value);
}

/** The JSON value at `key`, parsed (a value that is not JSON throws SyntaxError). */
export function getJson<T = unknown>(key: string): T | undefined {
  const value = getString(key);
  return value === undefined ? undefined : (JSON.parse(value) as T);
}

export function has(key: string): boolean {
  return get(key) !== undefined;
}

export function set(key: string, value: Uint8Array | string): void {
  unwrap(() => rawSet(utf8(key), typeof value === 'string' ? utf8(value) : value));
}

export function setJson(key: string, value: unknown): void {
  set(key, JSON.stringify(value));
}

/** Deletes `key` (`delete` is a reserved word: this is `remove`). */
export function remove(key: string): void {
  unwrap(() => rawDelete(utf8(key)));
}

/** One page of the keys under `prefix` in byte order, after `after` (exclusive) when given. */
export function listKeys(prefix: string, options: { after?: string; limit?: number } = {}): string[] {
  const { after, limit = PAGE } = options;
  return unwrap(() => rawListKeys(utf8(prefix), after === undefined ? undefined : utf8(after), limit)).map(text);
}

/** Every key under `prefix` in byte order, page by page. */
export function* keys(prefix: string): Generator<string> {
  let after: string | undefined;
  for (;;) {
    const page = listKeys(prefix, after === undefined ? {} : { after });
    yield* page;
    if (page.length < PAGE) return;
    after = page[page.length - 1];
  }
}
