/**
 * What `corral inspect` prints of a store, read through one `ReadView` with the read API's pages
 * (pages.ts), so a stopped state directory, a PostgreSQL store and a running engine (`inspect --url`,
 * src/cli/inspectUrl.ts) print the same shapes. They differ only in what one side alone knows: a
 * stored report counts each module's keys and undo records; a live one adds the actor, its status,
 * chain positions and running tasks.
 */
import type { ModuleReadView, ReadView, StoredBreaker } from '../../store/EngineStore.ts';
import { isReserved } from '../../store/reservedKeys.ts';
import { cronTicks, deadMessagesPage, jobsPage, keysPage, moduleSummary, timersPage, type PageBounds } from './pages.ts';
import type { DeadMessageShape, Entry, JobShape, ModuleSummary, TimersPage } from './shapes.ts';

/** What `corral inspect` is asked: one module's keys (under `prefix`, `limit` at most), or every module's summary. */
export interface InspectOptions {
  module?: string;
  prefix?: string;
  limit?: number;
}

/** One module in detail: its keys under the prefix, its timers, cron ticks and tasks. */
export interface ModuleDetail {
  module: string;
  prefix: string;
  entries: Entry[];
  timers: TimersPage['timers'];
  cronTicks: Record<string, number>;
  jobs: { pending: JobShape[]; dead: JobShape[] };
  /** Messages it received whose step failed past their retries (src/engine/MessageFeed.ts). */
  messages: { dead: DeadMessageShape[] };
}

/** A stored report's source: the modules with state, one view of them, and what the store alone keeps. */
export interface StoredSource {
  /** Where the state is, as the report names it (`stateDir`, or a redacted `url` and `schema`). */
  where: Record<string, unknown>;
  names: string[];
  view: ReadView;
  breaker(name: string): StoredBreaker | undefined;
  /** Fields only the store knows of a module (its undo records; on PostgreSQL its owner and epoch). */
  extra(name: string): Promise<Record<string, unknown>>;
}

/** A stored report lists everything asked (the CLI's `--limit` bounds the keys): a stopped store does not move. */
const all = (limit = Infinity): PageBounds => ({ limit, maxBytes: Infinity });

/** One module in detail, from one view. */
export async function moduleDetail(view: ModuleReadView, options: InspectOptions): Promise<ModuleDetail> {
  const prefix = new TextEncoder().encode(options.prefix ?? '');
  return {
    module: view.name,
    prefix: options.prefix ?? '',
    entries: (await keysPage(view, prefix, all(options.limit))).entries,
    timers: (await timersPage(view, all())).timers,
    cronTicks: await cronTicks(view),
    jobs: { pending: (await jobsPage(view, 'pending', all())).jobs, dead: (await jobsPage(view, 'dead', all())).jobs },
    messages: { dead: (await deadMessagesPage(view, all())).messages },
  };
}

/** The module's own keys (corral's reserved ones aside), counted. */
async function ownKeyCount(view: ModuleReadView): Promise<number> {
  let n = 0;
  for await (const key of view.keys({ limit: -1 })) if (!isReserved(key)) n++;
  return n;
}

/** The report of a store: every module's summary, or one module in detail. */
export async function storedReport(source: StoredSource, options: InspectOptions, unknown: (name: string) => Error): Promise<unknown> {
  const empty = (name: string): ModuleReadView => ({ name, get: async () => undefined, getSync: () => undefined, keys: async function* () {}, entries: async function* () {}, cursors: async () => ({}), storedBytes: async () => 0 });
  if (options.module !== undefined) {
    if (!source.names.includes(options.module)) throw unknown(options.module);
    const view = (await source.view.module(options.module)) ?? empty(options.module);
    const { module, ...detail } = await moduleDetail(view, options);
    return { module, ...(await source.extra(module)), ...detail };
  }
  const modules: (ModuleSummary & Record<string, unknown>)[] = [];
  for (const name of source.names) {
    const view = (await source.view.module(name)) ?? empty(name);
    const summary = await moduleSummary(view, source.breaker(name) ?? { state: 'closed' });
    modules.push({ ...summary, keys: await ownKeyCount(view), ...(await source.extra(name)) });
  }
  return { ...source.where, modules };
}
