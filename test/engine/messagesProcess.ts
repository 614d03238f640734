/**
 * An engine with a sender `a` and a receiver `b` in a process of its own, so a test can SIGKILL it
 * between the sender's commit and the receiver's step. Run as `node --import tsx messagesProcess.ts
 * <stateDir>`: `a` sends m1…m5 and the process waits until `b` handled them; then `a` sends `hold`, m7
 * and m8, and the process prints `committed` once that step committed. `b` never ends its step on
 * `hold` (its config makes it spin), so none of the three can be handled before the kill.
 */
import { pino } from 'pino';
import { Runtime } from '../../src/index.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { command, handled, msgProbe } from './messagesHarness.ts';

const stateDir = process.argv[2]!;
const runtime = new Runtime({ threads: 2, ...(process.env.CORRAL_TEST_CACHE_DIR ? { cacheDir: process.env.CORRAL_TEST_CACHE_DIR } : {}) });
const engine = await Engine.start({ runtime, stateDir, logger: pino({ level: 'error' }, pino.destination(2)), modules: [msgProbe('a', { to: ['b'] }), msgProbe('b', { from: ['a'], spin: 'hold' })] });
const ok = (outcome: Awaited<ReturnType<typeof command>>) => outcome.ok && (outcome.value as { tag?: string } | undefined)?.tag !== 'err';
if (!ok(await command(engine, 'a', { op: 'send', to: 'b', payloads: ['m1', 'm2', 'm3', 'm4', 'm5'] }))) process.exit(2);
await handled(engine, 'b', 'a', 5);
if (!ok(await command(engine, 'a', { op: 'send', to: 'b', payloads: ['hold', 'm7', 'm8'] }))) process.exit(2);
process.stdout.write('committed\n');
