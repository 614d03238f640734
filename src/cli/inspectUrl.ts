/**
 * `corral inspect --url`: the report of a running engine, read through its read API (docs/read-api.md),
 * in the shapes `corral inspect <state_dir>` prints (src/metrics/api/stateReport.ts). Beside them it
 * shows what only the running engine knows (each module's status, actor, chain positions, running
 * tasks) and lacks what only a stopped store gives cheaply (key counts, undo records). Each page is its
 * own read of the engine: a module that commits meanwhile may be shown between two pages' commits.
 */
import { EngineError } from '../errors/EngineError.ts';
import { DEFAULT_API } from '../limits/defaults.ts';
import type { InspectOptions, ModuleDetail } from '../metrics/api/stateReport.ts';
import type { DeadMessageShape, Entry, JobShape, KeysPage, LiveModule, TimersPage } from '../metrics/api/shapes.ts';

export async function inspectUrl(url: string, options: InspectOptions & { tokenEnv?: string } = {}, env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
  const tokenEnv = options.tokenEnv ?? DEFAULT_API.tokenEnv;
  const token = env[tokenEnv];
  if (!token) throw new EngineError('invalid-option', `corral inspect --url reads the engine's bearer token from ${tokenEnv}, which is ${token === undefined ? 'unset' : 'empty'}`, { option: '--token-env', value: tokenEnv });
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new EngineError('invalid-option', `--url ${url} is not a URL (http://host:port)`, { option: '--url', value: url });
  }
  const get = async <T>(path: string): Promise<T> => {
    const target = new URL(`/v1${path}`, base);
    let response: Response;
    try {
      response = await fetch(target, { headers: { authorization: `Bearer ${token}` } });
    } catch (cause) {
      throw new EngineError('invalid-option', `cannot reach the engine at ${base.origin}: ${(cause as Error).message}`, { option: '--url', value: url }, cause);
    }
    const body = (await response.json().catch(() => undefined)) as { error?: { message: string } } | undefined;
    if (response.status === 404 && options.module !== undefined && path.startsWith(`/modules/${encodeURIComponent(options.module)}`) && body?.error) {
      throw new EngineError('unknown-module', `no module named ${options.module} is loaded at ${base.origin}`, { module: options.module });
    }
    if (!response.ok) throw new EngineError('invalid-option', `${target.pathname}: ${response.status} ${body?.error?.message ?? response.statusText}`, { option: '--url', value: url, status: response.status });
    return body as T;
  };

  if (options.module === undefined) {
    const modules: LiveModule[] = [];
    let next: string | null = null;
    do {
      const page: { modules: LiveModule[]; next: string | null } = await get(next ? `/modules?cursor=${next}` : '/modules');
      modules.push(...page.modules);
      next = page.next;
    } while (next);
    return { url: base.origin, modules };
  }
  const m = `/modules/${encodeURIComponent(options.module)}`;
  const summary = await get<LiveModule>(m);
  /**
   * Every page of a listing, following `next`, `limit` items at most. Pages of the engine's own size
   * (`[engine.api] page_limit`): asking a size could pass its `max_page_limit`, which is the engine's
   * to choose (found in review: a fixed 1,000 was refused by an engine allowing 200).
   */
  const pages = async <T>(path: string, pick: (page: never) => T[], limit = Infinity): Promise<T[]> => {
    const items: T[] = [];
    let next: string | null = null;
    do {
      const page: { next: string | null } = await get<{ next: string | null }>(next ? `${path}${path.includes('?') ? '&' : '?'}cursor=${next}` : path);
      items.push(...pick(page as never));
      next = page.next;
    } while (next && items.length < limit);
    return items.slice(0, limit);
  };
  const detail: ModuleDetail = {
    module: options.module,
    prefix: options.prefix ?? '',
    entries: await pages<Entry>(`${m}/keys?prefix=${encodeURIComponent(options.prefix ?? '')}`, (p: KeysPage) => p.entries, options.limit),
    timers: await pages(`${m}/timers`, (p: TimersPage) => p.timers),
    cronTicks: summary.cronTicks,
    jobs: {
      pending: await pages<JobShape>(`${m}/jobs?state=pending`, (p: { jobs: JobShape[] }) => p.jobs),
      dead: await pages<JobShape>(`${m}/jobs?state=dead`, (p: { jobs: JobShape[] }) => p.jobs),
    },
    messages: { dead: await pages<DeadMessageShape>(`${m}/messages?state=dead`, (p: { messages: DeadMessageShape[] }) => p.messages) },
  };
  return detail;
}
