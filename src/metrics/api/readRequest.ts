/**
 * What a read API request asks of the store once the main thread has parsed and checked it, and how it
 * is answered from one snapshot. Everything here crosses to the read thread (ReadThread.ts) and back,
 * so requests hold only what structured clone carries: the live fields the engine knows (actor,
 * chains) are gathered on the main thread beforehand, the stored ones are read on the thread.
 */
import type { Bytes, ModuleReadView, ReadView } from '../../store/EngineStore.ts';
import { deadMessagesPage, jobsPage, keysPage, moduleSummary, runningJobs, timersPage, type PageBounds } from './pages.ts';
import type { LiveModule, ModuleSummary } from './shapes.ts';

/** What the engine holds of a module in memory, taken when the request arrives. */
export type LiveFields = Pick<LiveModule, 'name' | 'status' | 'actor' | 'runningJobs' | 'chains'> & { breaker: ModuleSummary['breaker'] };

/** One request's reads, by route. */
export type ReadRequest =
  | { kind: 'modules'; modules: LiveFields[]; next: string | null }
  | { kind: 'module'; module: LiveFields }
  | { kind: 'keys'; module: string; prefix: Bytes; bounds: PageBounds }
  | { kind: 'timers'; module: string; bounds: PageBounds }
  | { kind: 'jobs'; module: string; state: 'pending' | 'dead'; bounds: PageBounds }
  | { kind: 'running'; module: string; ids: string[]; bounds: PageBounds }
  | { kind: 'messages'; module: string; bounds: PageBounds };

/** Main thread → read thread: open the database at `location` (first), then requests by id. */
export type ReadThreadMessage = { kind: 'open'; location: string } | { kind: 'read'; id: number; request: ReadRequest };

/**
 * Read thread → main thread: its nice value once started (null where it cannot be set); then each
 * answer's JSON as UTF-8 (its buffer transferred, not copied), or why not.
 */
export type ReadThreadAnswer = { kind: 'started'; nice: number | null } | { kind: 'read'; id: number; ok: true; json: Uint8Array } | { kind: 'read'; id: number; ok: false; message: string };

/** A view of no state: a loaded module that has not committed anything yet. */
export function emptyView(name: string): ModuleReadView {
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

/** The body `request` answers, read from `view` (the caller opens and closes it). */
export async function answerRead(view: ReadView, request: ReadRequest): Promise<unknown> {
  const state = async (name: string) => (await view.module(name)) ?? emptyView(name);
  switch (request.kind) {
    case 'modules': {
      // One summary after another: a page never holds more than one module's walk at a time.
      const modules: LiveModule[] = [];
      for (const live of request.modules) modules.push(await liveModule(await state(live.name), live));
      return { modules, next: request.next };
    }
    case 'module':
      return liveModule(await state(request.module.name), request.module);
    case 'keys':
      return keysPage(await state(request.module), request.prefix, request.bounds);
    case 'timers':
      return timersPage(await state(request.module), request.bounds);
    case 'jobs':
      return { module: request.module, state: request.state, ...(await jobsPage(await state(request.module), request.state, request.bounds)) };
    case 'running':
      return { module: request.module, state: 'running', ...(await runningJobs(await state(request.module), request.ids, request.bounds)) };
    case 'messages':
      return { module: request.module, state: 'dead', ...(await deadMessagesPage(await state(request.module), request.bounds)) };
    default:
      return request satisfies never;
  }
}

async function liveModule(view: ModuleReadView, { breaker, name: _, ...live }: LiveFields): Promise<LiveModule> {
  return { ...(await moduleSummary(view, breaker)), ...live };
}

const utf8 = new TextEncoder();

/** An answer's body as the bytes sent (a fresh buffer, so a thread can transfer it). */
export const jsonBytes = (body: unknown): Uint8Array => utf8.encode(`${JSON.stringify(body)}\n`);
