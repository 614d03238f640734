import { DEFAULT_QUERY } from '../limits/defaults.ts';
import { Runtime } from '../runtime/Runtime.ts';
import type { QueryOutcome } from '../tracing/attributes.ts';

/** `[engine.query]` as the engine takes it (defaults: `DEFAULT_QUERY`). */
export interface QueryOptions {
  threads: number;
  maxInstances: number;
  maxConcurrent: number;
  checkoutTimeoutMs: number;
  fuel: number;
  timeoutMs: number;
  memoryBytes: number;
  maxIdleMs: number;
  maxResultBytes: number;
  /** Where the query runtime caches prepared components (the events' runtime's, so a module is prepared once). */
  cacheDir?: string;
}

/**
 * What every module's queries share: a runtime of their own and the engine-wide bound on queries
 * running at once. The runtime is made at the first query (an engine nobody queries starts no thread
 * for it) unless the embedder gave one, and its workers are not the events' workers: a query that
 * spins to its deadline holds a query thread, never one that events need. Its idle instances across
 * all modules are bounded by `maxInstances` (the runtime's `idleInstances`), the running ones by
 * `maxConcurrent`: each wasm memory reserves 10 GiB of address space, so queries over 10,000 modules
 * must not keep an instance per module.
 */
export class QueryRuntime {
  private made: Runtime | undefined;
  private running = 0;
  /** Queries each module ran (or was refused) since start, by outcome: `corral_query_total`. */
  private readonly counts = new Map<string, Partial<Record<QueryOutcome, number>>>();
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly options: QueryOptions,
    private readonly given: Runtime | undefined,
  ) {}

  /** The query runtime, made on first use. */
  runtime(): Runtime {
    if (this.given) return this.given;
    const { threads, maxInstances, cacheDir } = this.options;
    return (this.made ??= new Runtime({ threads, idleInstances: maxInstances, ...(cacheDir ? { cacheDir } : {}) }));
  }

  /**
   * One of the `maxConcurrent` running slots: its release function, or undefined when none came free
   * within `checkoutTimeoutMs` (the query is refused as `busy`; nothing of the guest ran). First come,
   * first served.
   */
  acquire(): Promise<(() => void) | undefined> {
    if (this.running < this.options.maxConcurrent) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve) => {
      const take = () => {
        clearTimeout(timer);
        resolve(this.releaser());
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(take), 1);
        resolve(undefined);
      }, this.options.checkoutTimeoutMs);
      this.waiting.push(take);
    });
  }

  /** Counts one query of a loaded module (never a name someone asked for: a label nobody can mint). */
  count(module: string, outcome: QueryOutcome): void {
    let counts = this.counts.get(module);
    if (!counts) this.counts.set(module, (counts = {}));
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }

  /** Queries per module and outcome since start. */
  stats(): Record<string, Partial<Record<QueryOutcome, number>>> {
    return Object.fromEntries([...this.counts].map(([module, counts]) => [module, { ...counts }]));
  }

  /** Closes the runtime it made (one given by the embedder is the embedder's to close). */
  async close(): Promise<void> {
    await this.made?.close();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next waiter: `running` stays, so no newcomer overtakes it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }
}

/** `[engine.query]` with the engine's options applied over `DEFAULT_QUERY`. */
export function queryOptions(given: Partial<QueryOptions> | undefined): QueryOptions {
  return { ...DEFAULT_QUERY, ...given };
}
