/**
 * An engine in a process of its own, so a test can SIGKILL it mid-stream (a crash, not a shutdown).
 * Run as `node --import tsx engineProcess.ts '<json>'` with { rpcUrl, stateDir, modules, report }.
 * Prints `reached <n>` each time the `report.module`'s cursor passes a block from `report.from` on:
 * the parent's only view into the engine while this process holds the database.
 */
import { pino } from 'pino';
import { Runtime, type ModuleManifest } from '../../src/index.ts';
import { Engine } from '../../src/engine/Engine.ts';

const options = JSON.parse(process.argv[2]!) as { rpcUrl: string; stateDir: string; modules: ModuleManifest[]; report: { module: string; from: number } };
const runtime = new Runtime({ threads: 2, ...(process.env.CORRAL_TEST_CACHE_DIR ? { cacheDir: process.env.CORRAL_TEST_CACHE_DIR } : {}) });
const engine = await Engine.start({
  runtime,
  stateDir: options.stateDir,
  logger: pino({ level: 'warn' }, pino.destination(2)),
  chains: { 31337: { rpcUrl: options.rpcUrl, pollIntervalMs: 20 } },
  modules: options.modules,
});
for (let n = BigInt(options.report.from); ; n++) {
  await engine.reached(options.report.module, 31337, n);
  process.stdout.write(`reached ${n}\n`);
}
