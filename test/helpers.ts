import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { fileURLToPath } from 'node:url';
import { Runtime, type HostImports, type LoadOptions, type RuntimeOptions } from '../src/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
export const fixture = (name: 'compute' | 'host-caller' | 'start-grow' | 'js-guest' | 'counter' | 'explorer' | 'store-probe' | 'watcher' | 'timer-probe' | 'job-probe' | 'job-nop' | 'wasi-guest' | 'wasi-exit' | 'wasi-sockets' | 'wasi-future' | 'wasi-module' | 'counter-v2' | 'wasi-probe' | 'query-probe' | 'batch-mixed' | 'msg-probe' | 'trig-probe') => join(root, 'fixtures', 'build', `${name}.wasm`);

/** A runtime on real worker threads, sharing the test run's artifact cache. */
export function newRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime({ threads: 2, cacheDir: process.env.CORRAL_TEST_CACHE_DIR, ...options });
}

/** A promise with its resolve function: lets a test decide exactly when a host function returns. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export function hostCallerImports(overrides: Partial<HostImports[string]> = {}): HostImports {
  return {
    'corral-fixtures:host-caller/host': {
      slow: async (ms: number) => ms,
      fail: () => {
        throw new TypeError('host says no');
      },
      echo: (s: string) => `host:${s}`,
      nop: () => {},
      ...overrides,
    },
  };
}

/**
 * The host-caller fixture whose `slow` host function holds each call until the test says: `inHost`
 * resolves once a call is inside the host, `release(value)` lets it return. For tests that need a call
 * in flight at a known moment (pool slots, close, unload) without sleeping.
 */
export async function gatedHostCaller(runtime: Runtime, options: Omit<LoadOptions, 'imports'> = {}) {
  const gate = deferred<number>();
  const inHost = deferred();
  const caller = await runtime.load(fixture('host-caller'), {
    limits: { timeoutMs: 60_000 },
    ...options,
    imports: hostCallerImports({
      slow: () => {
        inHost.resolve();
        return gate.promise;
      },
    }),
  });
  return { caller, inHost: inHost.promise, release: gate.resolve };
}

/** A pino logger at `trace` whose records (parsed JSON) land in `records`. */
export function captureLogger(): { logger: Logger; records: Record<string, unknown>[]; logged: (match: (record: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>> } {
  const records: Record<string, unknown>[] = [];
  const waiters: { match: (record: Record<string, unknown>) => boolean; resolve: (record: Record<string, unknown>) => void }[] = [];
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk, _encoding, done) {
        const record = JSON.parse(chunk.toString()) as Record<string, unknown>;
        records.push(record);
        for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.match(record)) waiters.splice(i, 1)[0]!.resolve(record);
        done();
      },
    }),
  );
  /** Resolves with the first record (already written or to come) that matches: a wait on a log line, without polling. */
  const logged = (match: (record: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const seen = records.find(match);
      if (seen) resolve(seen);
      else waiters.push({ match, resolve });
    });
  return { logger, records, logged };
}
