/**
 * The live read API (docs/read-api.md): GET routes under `/v1` on the metrics listener. Every request
 * reads one `engine.readView()` (a store snapshot: each step whole or not at all, never the module's
 * in-flight commit) and closes it before answering; a paged listing's next page is a new view. Reads are
 * asynchronous (libuv's pool), and at most `maxConcurrent` requests run at once, so readers never take
 * the event loop or the pool's threads from the commits that handle events.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../../engine/Engine.ts';
import type { Bytes, ModuleReadView, ReadView } from '../../store/EngineStore.ts';
import { refusal, type ApiAccess } from './auth.ts';
import { queryAnswer, type QueryAnswer } from './queryAnswer.ts';
import { cursorOf, jobsPage, keyOfCursor, keysPage, moduleSummary, runningJobs, timersPage, type PageBounds } from './pages.ts';
import type { ApiErrorCode, LiveModule } from './shapes.ts';

/** What the API reads of the engine. */
export type ReadApiEngine = Pick<Engine, 'readView' | 'actors' | 'chainPositions' | 'allJobStats' | 'runningJobIds' | 'query'>;

/** `[engine.api]` as the handler takes it (the token already read from its environment variable). */
export interface ReadApiOptions extends ApiAccess {
  pageLimit: number;
  maxPageLimit: number;
  maxPageBytes: number;
  maxConcurrent: number;
  retryAfterS: number;
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
function sendQueryAnswer(res: ServerResponse, answer: QueryAnswer): void {
  res.statusCode = answer.status;
  res.setHeader('content-type', answer.contentType);
  res.setHeader('cache-control', 'no-store');
  res.end(answer.body);
}

const sendError = (res: ServerResponse, e: ApiRefusal, headers?: Record<string, string>) => send(res, e.status, { error: { status: e.status, code: e.code, message: e.message } }, headers);

/** A view of no state: a loaded module that has not committed anything yet. */
function emptyView(name: string): ModuleReadView {
  return {
    name,
    get: async () => undefined,
    getSync: () => undefined,
    keys: async function* () {},
    entries: async function* () {},
    cursors: async () => ({}),
    storedBytes: async () => 0,
  };
}

/** What `/v1` answers while the API is off: 404, as if it did not exist. */
export function readApiOff(res: ServerResponse): void {
  sendError(res, notFound('the read API is off ([engine.api] enabled = false)'));
}

/** Handles one request under `/v1`. */
export type ReadApiHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

/**
 * The `/v1` handler; `serveMetrics` hands it every request whose path starts with `/v1`. Answers
 * (always JSON): 405 for a method other than GET,
 * 403 to a peer off this host unless `allowRemote`, 401 without the right bearer token, 503 with
 * `Retry-After` past `maxConcurrent`, 400 for a malformed parameter, 404 for an unknown module or route.
 */
export function readApiHandler(engine: ReadApiEngine, options: ReadApiOptions): ReadApiHandler {
  let inFlight = 0;
  return (req, res, url) => {
    if (req.method !== 'GET') return sendError(res, new ApiRefusal(405, 'method-not-allowed', `${req.method} is not served: the read API is GET only`), { allow: 'GET' });
    const refused = refusal(req, options);
    if (refused) return sendError(res, new ApiRefusal(refused.status, refused.code, refused.message), refused.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
    if (inFlight >= options.maxConcurrent) {
      return sendError(res, new ApiRefusal(503, 'busy', `${inFlight} requests are being served ([engine.api] max_concurrent); retry later`), { 'retry-after': String(options.retryAfterS) });
    }
    inFlight++;
    // Whatever fails, the client gets an answer and nothing escapes as an unhandled rejection: that
    // would take the engine (and every module it serves) down over one request.
    route(engine, options, url)
      .then((answer) => ('contentType' in answer ? sendQueryAnswer(res, answer) : send(res, answer.status, answer.body)))
      .catch((error: unknown) => sendError(res, error instanceof ApiRefusal ? error : new ApiRefusal(500, 'internal', error instanceof Error ? error.message : String(error))))
      .catch((error: unknown) => res.destroy(error instanceof Error ? error : new Error(String(error))))
      .finally(() => inFlight--);
  };
}

/** Path segments after `/v1`, each percent-decoded. */
function segments(url: URL): string[] {
  try {
    return url.pathname.split('/').slice(2).filter((s, i, all) => s !== '' || i < all.length - 1).map(decodeURIComponent);
  } catch {
    throw badRequest(`malformed percent-encoding in ${url.pathname}`);
  }
}

async function route(engine: ReadApiEngine, options: ReadApiOptions, url: URL): Promise<{ status: number; body: unknown } | QueryAnswer> {
  const [collection, module, sub, ...rest] = segments(url);
  if (collection !== 'modules') throw notFound(`no route ${url.pathname}: see /v1/modules`);
  const actors = engine.actors();
  if (module !== undefined && !actors.some((a) => a.name === module)) throw notFound(`no module named ${module} is loaded here`);
  // The module's own `query` export (docs/modules.md "Queries"): it reads its own view, on the query runtime.
  if (sub === 'query') return queryAnswer(await engine.query(module!, `/${rest.join('/')}`, [...url.searchParams]));
  if (rest.length > 0) throw notFound(`no route ${url.pathname}`);
  const params = url.searchParams;
  return withView(engine, async (view) => {
    if (module === undefined) return { status: 200, body: await modulesPage(engine, view, actors, bounds(options, params)) };
    const state = (await view.module(module)) ?? emptyView(module);
    switch (sub) {
      case undefined:
        return { status: 200, body: await liveModule(engine, view, module) };
      case 'keys':
        return { status: 200, body: await keysPage(state, prefixOf(params), bounds(options, params)) };
      case 'timers':
        return { status: 200, body: await timersPage(state, bounds(options, params)) };
      case 'jobs': {
        const jobState = params.get('state') ?? 'pending';
        const b = bounds(options, params);
        if (jobState === 'running') return { status: 200, body: { module, state: jobState, ...(await runningJobs(state, engine.runningJobIds(module), b)) } };
        if (jobState !== 'pending' && jobState !== 'dead') throw badRequest(`state=${jobState}: pending, running or dead`);
        return { status: 200, body: { module, state: jobState, ...(await jobsPage(state, jobState, b)) } };
      }
      default:
        throw notFound(`no route ${url.pathname}: a module has /keys, /jobs, /timers and /query/…`);
    }
  });
}

/**
 * A page of modules in name order, `limit` at most, after the cursor's name: every summary walks the
 * module's tasks and timers, and one answer for 5,000 modules held the event loop 1.7 s (found in
 * review). Summaries are made one after another, so a page never holds more than one walk at a time.
 */
async function modulesPage(engine: ReadApiEngine, view: ReadView, actors: readonly { name: string }[], bounds: PageBounds): Promise<{ modules: LiveModule[]; next: string | null }> {
  const after = bounds.after === undefined ? undefined : new TextDecoder().decode(bounds.after);
  const names = actors.map((a) => a.name).filter((name) => after === undefined || name > after).sort();
  const page = names.slice(0, bounds.limit);
  const modules: LiveModule[] = [];
  for (const name of page) modules.push(await liveModule(engine, view, name));
  return { modules, next: names.length > page.length ? cursorOf(new TextEncoder().encode(page.at(-1)!)) : null };
}

/** Runs `read` on a fresh view and closes the view however it ends. */
async function withView<T>(engine: ReadApiEngine, read: (view: ReadView) => Promise<T>): Promise<T> {
  const view = await engine.readView();
  try {
    return await read(view);
  } finally {
    await view.close();
  }
}

/** A module's summary from the view, with the live fields from the engine. */
async function liveModule(engine: ReadApiEngine, view: ReadView, name: string): Promise<LiveModule> {
  const actor = engine.actors().find((a) => a.name === name)!;
  const state = (await view.module(name)) ?? emptyView(name);
  const summary = await moduleSummary(state, { state: actor.breaker });
  const status = actor.state === 'stopped' ? (actor.stopReason === 'halted' ? 'halted' : 'stopped') : actor.breaker === 'closed' ? 'serving' : 'quarantined';
  const text = (n: bigint | undefined) => (n === undefined ? null : String(n));
  return {
    ...summary,
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
