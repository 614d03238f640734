/**
 * An engine with one idem-probe module in a process of its own, so a test can SIGKILL it after a
 * job's effect and before its commit. Run as `node --import tsx idemProcess.ts <stateDir> <targetUrl>
 * <targetHost>`: enqueues one task `work`/`once` and prints `enqueued` once that is committed.
 */
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { Runtime } from '../../src/index.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { fixture } from '../helpers.ts';

const [stateDir, url, host] = [process.argv[2]!, process.argv[3]!, process.argv[4]!];
const runtime = new Runtime({ threads: 2, ...(process.env.CORRAL_TEST_CACHE_DIR ? { cacheDir: process.env.CORRAL_TEST_CACHE_DIR } : {}) });
const component = join(dirname(fixture('counter')), 'idem-probe.wasm');
const engine = await Engine.start({
  runtime,
  stateDir,
  logger: pino({ level: 'warn' }, pino.destination(2)),
  modules: [{ name: 'i', component, config: url, topics: ['cmd'], limits: { fuel: 200_000_000, timeoutMs: 60_000 }, grants: { store: true, http: { hosts: [host] }, timers: true, queue: true } }],
});
const outcome = await engine.deliver('i', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify({ op: 'enqueue', type: 'work', payload: 'once', maxRetry: 5 }) } }, { seq: 1 });
if (!outcome.ok) {
  process.stderr.write('enqueueing failed\n');
  process.exit(2);
}
process.stdout.write('enqueued\n');
