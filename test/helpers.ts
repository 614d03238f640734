import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { fileURLToPath } from 'node:url';
import { Runtime, type HostImports, type RuntimeOptions } from '../src/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
export const fixture = (name: 'compute' | 'host-caller' | 'start-grow' | 'js-guest' | 'counter' | 'explorer' | 'store-probe' | 'watcher' | 'timer-probe') => join(root, 'fixtures', 'build', `${name}.wasm`);

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

/** A pino logger at `trace` whose records (parsed JSON) land in `records`. */
export function captureLogger(): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk, _encoding, done) {
        records.push(JSON.parse(chunk.toString()));
        done();
      },
    }),
  );
  return { logger, records };
}
