/// <reference path="./world.d.ts" />
// Structured logging (grant `logging`): the fields are an object, serialised here.
import { type Level, log as raw } from 'corral:module/logging@0.1.0';

export type { Level };

/** One pino record carrying the module, event and cursor; `fields` is merged as its `fields`. */
export function log(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  raw(level, message, JSON.stringify(fields, bigintAsString));
}

export const debug = (message: string, fields?: Record<string, unknown>) => log('debug', message, fields);
export const info = (message: string, fields?: Record<string, unknown>) => log('info', message, fields);
export const warn = (message: string, fields?: Record<string, unknown>) => log('warn', message, fields);
export const error = (message: string, fields?: Record<string, unknown>) => log('error', message, fields);

/** viem decodes uint256 to BigInt, which JSON.stringify refuses. */
function bigintAsString(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
