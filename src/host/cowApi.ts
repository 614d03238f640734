import type * as CowApi from './generated/corral-module-cow-api.js';
import { fault } from './fault.ts';
import { orderProblems } from './cowOrder.ts';
import { invocationSignal } from '../runtime/HostImports.ts';
import type { HostImplementation } from './HostImplementation.ts';
import type { InvocationScope } from './InvocationScope.ts';
import { sendHttp, type HttpAnswer } from './sendHttp.ts';

const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'DELETE']);

const invalid = (why: string) => fault({ tag: 'invalid-input', val: why });

/**
 * What is wrong with a path a module asks for, or undefined. The path is appended to the configured
 * base URL, so anything the URL parser would resolve elsewhere is refused: dot segments (also
 * percent-encoded, which WHATWG URLs treat as dots), `//`, backslashes (read as `/` in http URLs),
 * a fragment, whitespace and control characters.
 */
function pathProblem(path: string): string | undefined {
  if (!path.startsWith('/api/')) return `path must start with /api/ (got ${JSON.stringify(path.slice(0, 40))})`;
  if (/[\s\x00-\x1f\x7f]/.test(path)) return 'path must not contain whitespace or control characters';
  if (path.includes('#')) return 'path must not contain a fragment (#)';
  if (path.includes('\\')) return 'path must not contain a backslash';
  const [pathname] = path.split('?', 1) as [string];
  if (pathname.includes('//')) return 'path must not contain //';
  if (pathname.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) return 'path must not contain . or .. segments';
  return undefined;
}

/**
 * `corral:module/cow-api`: the CoW Protocol order book of each granted chain (its `orderbookUrl`),
 * as a REST passthrough (`request`) and an order submission the host checks first (`submit-order`).
 * Caps and accounting are those of `http`: every call counts toward `httpFetches`, bodies against
 * `httpRequestBytes` and `httpResponseBytes`, `httpTimeoutMs` per request. The base URLs come from the
 * engine's configuration, not the guest, so they are not held to `http`'s internal-address rule.
 */
export function cowApiHost(scope: InvocationScope, orderbooks: ReadonlyMap<bigint, string>, granted: readonly number[]): HostImplementation<typeof CowApi> {
  const orderbook = (chainId: bigint): string => {
    if (!granted.some((id) => BigInt(id) === chainId)) throw fault({ tag: 'denied', val: `cow-api on chain ${chainId} is not granted to ${scope.module}` });
    const base = orderbooks.get(chainId);
    if (base === undefined) throw fault({ tag: 'denied', val: `chain ${chainId} has no orderbook_url configured` });
    return new URL(base).href.replace(/\/+$/, ''); // as URL writes it, so the check in send compares like with like
  };
  const send = (base: string, method: string, path: string, body: string): Promise<HttpAnswer> => {
    const bytes = new TextEncoder().encode(body);
    scope.check('httpRequestBytes', bytes.byteLength);
    // The path was checked; this only guards against a base URL and path that combine unexpectedly.
    const target = new URL(base + path);
    if (!target.href.startsWith(`${base}/api/`)) throw invalid(`path leaves the order book's API (${target.pathname})`);
    const headers: [string, string][] = [['accept', 'application/json']];
    // content-length always: Node sends the body of a DELETE (how orders are cancelled) neither chunked nor sized otherwise.
    if (body !== '') headers.push(['content-type', 'application/json'], ['content-length', String(bytes.byteLength)]);
    // The invocation's signal: an order posted for a step that already failed must not land later.
    return sendHttp(scope, target, { method, headers, body: bytes, signal: invocationSignal() });
  };

  return {
    async request(chainId: bigint, method: string, path: string, body: string): Promise<CowApi.Response> {
      scope.charge('httpFetches');
      const base = orderbook(chainId);
      if (!METHODS.has(method)) throw invalid(`method must be GET, POST, PUT or DELETE (got ${JSON.stringify(method.slice(0, 20))})`);
      const problem = pathProblem(path);
      if (problem) throw invalid(problem);
      if (body !== '' && !isJson(body)) throw invalid('body must be JSON, or empty');
      const answer = await send(base, method, path, body);
      return { status: answer.status, body: new TextDecoder().decode(answer.body) };
    },

    async submitOrder(chainId: bigint, orderJson: string): Promise<string> {
      scope.charge('httpFetches');
      const base = orderbook(chainId);
      const problems = orderProblems(orderJson);
      if (problems.length > 0) throw invalid(problems.join('; '));
      // The order goes as the module wrote it: fields corral does not know pass through untouched.
      const answer = await send(base, 'POST', '/api/v1/orders', orderJson);
      const text = new TextDecoder().decode(answer.body);
      if (answer.status !== 201 && answer.status !== 200) throw fault({ tag: 'upstream', val: text || `the order book answered ${answer.status} with an empty body` });
      const uid = parseJson(text);
      if (typeof uid !== 'string') throw fault({ tag: 'upstream', val: `the order book answered ${answer.status} without an order uid: ${text.slice(0, 200)}` });
      return uid;
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isJson = (text: string) => parseJson(text) !== undefined;
