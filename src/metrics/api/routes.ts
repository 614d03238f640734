/**
 * The live read API (docs/read-api.md): GET routes under `/v1` on the metrics listener. The main thread
 * parses and checks a request and takes the live fields the engine holds; the store is read, decoded
 * and encoded as JSON elsewhere: on the read thread for LevelDB (ReadThread.ts), so a request costs
 * the main thread, where steps run, only its HTTP and a message each way. Every request reads one
 * snapshot (each step whole or not at all, never the module's in-flight commit) and closes it before
 * answering; a paged listing's next page is a new one. At most `maxConcurrent` requests are read at
 * once (503 with `Retry-After` past that, at once), and none waits past `deadlineMs`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../../engine/Engine.ts';
import { DEFAULT_API } from '../../limits/defaults.ts';
import type { Bytes } from '../../store/EngineStore.ts';
import { LevelReadView } from '../../store/LevelReadView.ts';
import { CorralError } from '../../errors/CorralError.ts';
import { isLoopback, refusal, type ApiAccess } from './auth.ts';
import { cursorOf, keyOfCursor, type PageBounds } from './pages.ts';
import { queryAnswer, type QueryAnswer } from './queryAnswer.ts';
import type { LiveFields, ReadRequest } from './readRequest.ts';
import { ReadThread } from './ReadThread.ts';
import type { ApiErrorCode } from './shapes.ts';
import { inlineReader, ReadTimeout, type StateReader } from './StateReader.ts';

/** What the API reads of the engine, and `promote`, its one admin action (`POST /v1/modules/<m>/promote`; 404 without it). */
export type ReadApiEngine = Pick<Engine, 'readView' | 'actors' | 'chainPositions' | 'allJobStats' | 'runningJobIds' | 'query'> & Partial<Pick<Engine, 'promote'>>;

/** `[engine.api]` as the handler takes it (the token already read from its environment variable). */
export interface ReadApiOptions extends ApiAccess {
  pageLimit: number;
  maxPageLimit: number;
  maxPageBytes: number;
  maxConcurrent: number;
  retryAfterS: number;
  /** A read not answered by then is answered 503 `timeout` (default DEFAULT_API.deadlineMs). */
  deadlineMs?: number;
}

/** A request the API refuses, with the status and code its JSON error carries. */
class ApiRefusal {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    readonly message: string,
  ) {}
}

const badRequest = (message: string) => new ApiRefusal(400, 'bad-request', message);
const notFound = (message: string) => new ApiRefusal(404, 'not-found', message);

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(`${JSON.stringify(body)}\n`);
}

/** A module's own answer to its `query` export: its bytes as the module wrote them (see queryAnswer). */
/** JSON the reader encoded, written as it is. */
function sendJson(res: ServerResponse, json: Uint8Array): void {
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(json);
}

function sendQueryAnswer(res: ServerResponse, answer: QueryAnswer): void {
  res.statusCode = answer.status;
  res.setHeader('content-type', answer.contentType);
  res.setHeader('cache-control', 'no-store');
  res.end(answer.body);
}

const sendError = (res: ServerResponse, e: ApiRefusal, headers?: Record<string, string>) => send(res, e.status, { error: { status: e.status, code: e.code, message: e.message } }, headers);

/** What `/v1` answers while the API is off: 404, as if it did not exist. */
export function readApiOff(res: ServerResponse): void {
  sendError(res, notFound('the read API is off ([engine.api] enabled = false)'));
}

/** Handles one request under `/v1`; `close` ends its read thread. */
export type ReadApiHandler = ((req: IncomingMessage, res: ServerResponse, url: URL) => void) & { close(): Promise<void> };

/**
 * The `/v1` handler; `serveMetrics` hands it every request whose path starts with `/v1`. Answers
 * (always JSON): 405 for a method other than GET,
 * 403 to a peer off this host unless `allowRemote`, 401 without the right bearer token, 503 with
 * `Retry-After` past `maxConcurrent` (`busy`) or past `deadlineMs` (`timeout`), 400 for a malformed
 * parameter, 404 for an unknown module or route. `reader` replaces the one chosen from the store (tests).
 */
export function readApiHandler(engine: ReadApiEngine, options: ReadApiOptions, reader?: StateReader): ReadApiHandler {
  let inFlight = 0;
  let chosen: Promise<StateReader> | undefined = reader && Promise.resolve(reader);
  const deadlineMs = options.deadlineMs ?? DEFAULT_API.deadlineMs;
  const retry = { 'retry-after': String(options.retryAfterS) };
  const handle = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const promoting = promoteRoute(url);
    if (promoting !== undefined) return promote(engine, options, req, res, promoting);
    if (req.method !== 'GET') return sendError(res, new ApiRefusal(405, 'method-not-allowed', `${req.method} is not served: the read API is GET only`), { allow: 'GET' });
    const refused = refusal(req, options);
    if (refused) return sendError(res, new ApiRefusal(refused.status, refused.code, refused.message), refused.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
    if (inFlight >= options.maxConcurrent) {
      return sendError(res, new ApiRefusal(503, 'busy', `${inFlight} requests are being served ([engine.api] max_concurrent); retry later`), retry);
    }
    inFlight++;
    // Whatever fails, the client gets an answer and nothing escapes as an unhandled rejection: that
    // would take the engine (and every module it serves) down over one request.
    (async () => {
      const planned = await plan(engine, options, url);
      if ('contentType' in planned) return sendQueryAnswer(res, planned);
      sendJson(res, await (await (chosen ??= readerOf(engine))).read(planned, deadlineMs));
    })()
      .catch((error: unknown) => {
        if (error instanceof ReadTimeout) return sendError(res, new ApiRefusal(503, 'timeout', `the read took longer than ${error.deadlineMs} ms; retry later`), retry);
        sendError(res, error instanceof ApiRefusal ? error : new ApiRefusal(500, 'internal', error instanceof Error ? error.message : String(error)));
      })
      .catch((error: unknown) => res.destroy(error instanceof Error ? error : new Error(String(error))))
      .finally(() => inFlight--);
  };
  return Object.assign(handle, { close: async () => (await chosen)?.close() });
}

/** The module of `/v1/modules/<m>/promote`, or undefined for another path. */
function promoteRoute(url: URL): string | undefined {
  const match = /^\/v1\/modules\/([^/]+)\/promote\/?$/.exec(url.pathname);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined; // answered 400 by the read routes
  }
}

/**
 * `POST /v1/modules/<m>/promote` (`corral promote`): `engine.promote(m)`, the shadow candidate made
 * the module. The API's one write, so stricter than its reads: loopback peers only, even with
 * `allow_remote` (a promotion runs new code against the module's state: whoever may do that is on the
 * engine's host), and the same bearer token; POST only, so no link, prefetch or GET from a browser
 * triggers it (the token travels in a header a cross-site page cannot set without a CORS preflight,
 * which is never answered). Not counted against `maxConcurrent`: promotions of one module run one at a
 * time (HotSwaps), and it reads no page. Answers 200 `{ module, migrated }`; 404 for a module not
 * loaded here; 409 `promote-refused` with the engine's typed error as `refusal` (no candidate, a
 * migrate that failed, a candidate rebuilt since its shadow run: the earlier version serves on).
 */
function promote(engine: ReadApiEngine, access: ApiAccess, req: IncomingMessage, res: ServerResponse, module: string): void {
  req.resume(); // a body, if any, is not read
  if (req.method !== 'POST') return sendError(res, new ApiRefusal(405, 'method-not-allowed', `${req.method} is not served: promote is POST only`), { allow: 'POST' });
  if (!isLoopback(req.socket.remoteAddress)) return sendError(res, new ApiRefusal(403, 'forbidden', 'promote answers loopback peers only, whatever [engine.api] allow_remote says'));
  const refused = refusal(req, access);
  if (refused) return sendError(res, new ApiRefusal(refused.status, refused.code, refused.message), refused.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
  if (!engine.promote) return sendError(res, notFound('this engine does not promote over the API'));
  if (!engine.actors().some((a) => a.name === module)) return sendError(res, notFound(`no module named ${module} is loaded here`));
  // Through a promise: a synchronous throw of promote (a module gone between the check and the call)
  // must answer the request, not escape the listener and end the process.
  const promote = engine.promote.bind(engine);
  Promise.resolve(module).then(promote).then(
    ({ migrated }) => send(res, 200, { module, migrated }),
    (error: unknown) => {
      if (error instanceof CorralError) return send(res, 409, { error: { status: 409, code: 'promote-refused', message: error.message, refusal: error.toJSON() } });
      sendError(res, new ApiRefusal(500, 'internal', error instanceof Error ? error.message : String(error)));
    },
  );
}

/**
 * The read thread when the store is a LevelDB it can open (found from one view, once), the main thread
 * otherwise (PostgreSQL: its reads already run on their own connections).
 */
export async function readerOf(engine: ReadApiEngine): Promise<StateReader> {
  const probe = await engine.readView();
  await probe.close();
  return probe instanceof LevelReadView ? new ReadThread(probe.location) : inlineReader(() => engine.readView());
}

/** Path segments after `/v1`, each percent-decoded. */
function segments(url: URL): string[] {
  try {
    return url.pathname.split('/').slice(2).filter((s, i, all) => s !== '' || i < all.length - 1).map(decodeURIComponent);
  } catch {
    throw badRequest(`malformed percent-encoding in ${url.pathname}`);
  }
}

/** What a request reads, checked here (bad parameters are refused before anything is read); a module query is run. */
async function plan(engine: ReadApiEngine, options: ReadApiOptions, url: URL): Promise<ReadRequest | QueryAnswer> {
  const [collection, module, sub, ...rest] = segments(url);
  if (collection !== 'modules') throw notFound(`no route ${url.pathname}: see /v1/modules`);
  const actors = engine.actors();
  if (module !== undefined && !actors.some((a) => a.name === module)) throw notFound(`no module named ${module} is loaded here`);
  // The module's own `query` export (docs/modules.md "Queries"): it reads its own view, on the query runtime.
  if (sub === 'query') return queryAnswer(await engine.query(module!, `/${rest.join('/')}`, [...url.searchParams]));
  if (rest.length > 0) throw notFound(`no route ${url.pathname}`);
  const params = url.searchParams;
  if (module === undefined) return modulesPage(engine, actors, bounds(options, params));
  switch (sub) {
    case undefined:
      return { kind: 'module', module: liveFields(engine, module) };
    case 'keys':
      return { kind: 'keys', module, prefix: prefixOf(params), bounds: bounds(options, params) };
    case 'timers':
      return { kind: 'timers', module, bounds: bounds(options, params) };
    case 'jobs': {
      const jobState = params.get('state') ?? 'pending';
      const b = bounds(options, params);
      if (jobState === 'running') return { kind: 'running', module, ids: [...engine.runningJobIds(module)], bounds: b };
      if (jobState !== 'pending' && jobState !== 'dead') throw badRequest(`state=${jobState}: pending, running or dead`);
      return { kind: 'jobs', module, state: jobState, bounds: b };
    }
    case 'messages': {
      // Only the dead ones are the receiver's: its pending messages are its senders' outboxes.
      const messageState = params.get('state') ?? 'dead';
      if (messageState !== 'dead') throw badRequest(`state=${messageState}: dead`);
      return { kind: 'messages', module, bounds: bounds(options, params) };
    }
    default:
      throw notFound(`no route ${url.pathname}: a module has /keys, /jobs, /messages, /timers and /query/…`);
  }
}

/**
 * A page of modules in name order, `limit` at most, after the cursor's name: every summary walks the
 * module's tasks and timers, and one answer for 5,000 modules held the event loop 1.7 s (found in
 * review).
 */
function modulesPage(engine: ReadApiEngine, actors: readonly { name: string }[], bounds: PageBounds): ReadRequest {
  const after = bounds.after === undefined ? undefined : new TextDecoder().decode(bounds.after);
  const names = actors.map((a) => a.name).filter((name) => after === undefined || name > after).sort();
  const page = names.slice(0, bounds.limit);
  return { kind: 'modules', modules: page.map((name) => liveFields(engine, name)), next: names.length > page.length ? cursorOf(new TextEncoder().encode(page.at(-1)!)) : null };
}

/** What the engine holds of a module now (its stored fields are read with the rest of the request). */
function liveFields(engine: ReadApiEngine, name: string): LiveFields {
  const actor = engine.actors().find((a) => a.name === name)!;
  const status = actor.state === 'stopped' ? (actor.stopReason === 'halted' ? 'halted' : 'stopped') : actor.breaker === 'closed' ? 'serving' : 'quarantined';
  const text = (n: bigint | undefined) => (n === undefined ? null : String(n));
  return {
    name,
    breaker: { state: actor.breaker },
    status,
    actor: { state: actor.state, mailboxDepth: actor.mailboxDepth, restarts: actor.restarts, invocations: actor.invocations, lastSignal: actor.lastSignal },
    runningJobs: engine.allJobStats()[name]?.running ?? 0,
    chains: engine
      .chainPositions()
      .filter((p) => p.module === name)
      .map((p) => ({ chainId: p.chainId, head: text(p.head), block: text(p.block), lag: p.head !== undefined && p.block !== undefined ? String(p.head - p.block) : null, caughtUp: p.caughtUp })),
  };
}

/** `prefix` in `prefix_encoding` (utf8 by default, or base64). */
function prefixOf(params: URLSearchParams): Bytes {
  const prefix = params.get('prefix') ?? '';
  const encoding = params.get('prefix_encoding') ?? 'utf8';
  if (encoding === 'utf8') return new TextEncoder().encode(prefix);
  if (encoding !== 'base64') throw badRequest(`prefix_encoding=${encoding}: utf8 or base64`);
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(prefix)) throw badRequest('prefix is not base64');
  return Uint8Array.from(Buffer.from(prefix, 'base64'));
}

/** A page's `limit` and `cursor`, checked against `[engine.api]`. */
function bounds(options: ReadApiOptions, params: URLSearchParams): PageBounds {
  const raw = params.get('limit');
  const limit = raw === null ? options.pageLimit : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > options.maxPageLimit) throw badRequest(`limit=${raw}: an integer from 1 to ${options.maxPageLimit} ([engine.api] max_page_limit)`);
  const cursor = params.get('cursor');
  const after = cursor === null ? undefined : keyOfCursor(cursor);
  if (cursor !== null && (after === undefined || after.byteLength === 0)) throw badRequest('cursor is not one a page answered (base64url of a key)');
  return { limit, maxBytes: options.maxPageBytes, after };
}
