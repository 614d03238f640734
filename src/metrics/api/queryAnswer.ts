import type { QueryResult } from '../../engine/ModuleQuery.ts';
import type { ApiErrorCode } from './shapes.ts';

/** An HTTP answer to `GET /v1/modules/<name>/query/<path>`: what the read API's router sends. */
export interface QueryAnswer {
  status: number;
  contentType: string;
  body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

/** The status of a module's `err(fault)`: its own refusals keep their meaning over HTTP. */
const FAULT_STATUS: Record<string, number> = {
  'not-found': 404,
  'invalid-input': 400,
  denied: 403,
  limit: 429,
};

/** A JSON body of corral's own (not the module's), in the read API's error shape (ApiErrorSchema). */
function error(status: number, code: ApiErrorCode, message: string, details: Record<string, unknown>): QueryAnswer {
  return { status, contentType: JSON_TYPE, body: JSON.stringify({ error: { status, code, message, ...details } }) };
}

/** True when the module's answer is JSON: it then goes out as JSON, else as text, its bytes untouched either way. */
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Maps what `engine.query` ended with to an HTTP answer:
 * - the module's answer: 200, JSON content type when it parses as JSON, text otherwise;
 * - its `err(fault)`: `not-found` 404, `invalid-input` 400, `denied` 403, `limit` 429, any other
 *   (`upstream`, `internal`) 500, code `query-fault` with the case as `fault` and its text as `message`;
 * - a signal: `ExecutionTimeout` 504 (the query ran out of time: a gateway timeout), any other
 *   (`OutOfFuel`, `MemoryLimitExceeded`, `HostLimitExceeded`, `Trap`) 503, code `query-signal` with the signal's data as `signal`;
 * every error body in the read API's shape `{ error: { status, code, message, module, … } }`;
 * - a module without the `query` export, or no module of that name: 404;
 * - `busy` (no running slot came free in time): 503, like any overload;
 * - an answer past `max_result_bytes`: 502 (the module answered, but not something we pass on).
 */
export function queryAnswer(result: QueryResult): QueryAnswer {
  const { module } = result;
  switch (result.kind) {
    case 'answer':
      return { status: 200, contentType: isJson(result.answer) ? JSON_TYPE : TEXT_TYPE, body: result.answer };
    case 'fault': {
      const { tag, val } = result.fault;
      return error(FAULT_STATUS[tag] ?? 500, 'query-fault', val, { module, fault: tag });
    }
    case 'signal':
      return error(result.signal.name === 'ExecutionTimeout' ? 504 : 503, 'query-signal', `the query was stopped: ${result.signal.name}`, { module, signal: result.signal.toData() });
    case 'no-query':
      return error(404, 'no-query', `module ${module} does not export \`query\``, { module });
    case 'unknown-module':
      return error(404, 'not-found', `no module ${module} runs here`, { module });
    case 'busy':
      return error(503, 'busy', 'every query slot stayed taken', { module, waitedMs: result.waitedMs });
    case 'too-large':
      return error(502, 'too-large', `the answer has ${result.bytes} bytes; at most ${result.max}`, { module, bytes: result.bytes, max: result.max });
    default:
      return unknownResult(result);
  }
}

function unknownResult(result: never): never {
  throw new Error(`unknown query result ${String((result as { kind?: unknown }).kind)}`);
}
