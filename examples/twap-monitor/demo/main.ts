/**
 * `npm start`: the TWAP watcher end to end on this machine, no network. Builds the contracts and the
 * module, starts an anvil chain, a local order book and corral (on engine.toml, as `corral run`
 * would), then plays the scenario (demo/scenario.ts) one block at a time and shows what the watcher
 * does. Ends with a summary that compares what was posted with the schedule the contract gives
 * (asked about every order at every block); exit code 1 if they differ. Ctrl-C stops early, gracefully. `--blocks N` and `--pace-ms M` change
 * the length and the speed; `--keep-state` keeps the state directory (it is kept anyway on a mismatch).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { filter, firstValueFrom } from 'rxjs';
import { buildFixtures } from '../../../fixtures/build.ts';
import { loadConfig } from '../../../src/config/loadConfig.ts';
import { startConfigured } from '../../../src/app/startConfigured.ts';
import { startAnvil, type Anvil } from '../../../src/chain/embeddedAnvil.ts';
import { deployComposableCow } from './composableCow.ts';
import { startOrderBook } from './orderBook.ts';
import { Scenario } from './scenario.ts';
import { renderDemo, summarize, type DemoView } from './view.ts';

const { values: flags } = parseArgs({ options: { blocks: { type: 'string', default: '80' }, 'pace-ms': { type: 'string', default: '250' }, 'keep-state': { type: 'boolean', default: false } } });
const ticks = Number(flags.blocks);
const paceMs = Number(flags['pace-ms']);
const live = process.stdout.isTTY === true;
const say = (line: string) => process.stdout.write(`${line}\n`);

// Ctrl-C: the first stops the demo after the current block and prints the summary; a second one exits
// at once (the exit hook still stops anvil). anvil runs in its own process group, so the terminal's
// Ctrl-C does not take the chain away under the summary.
let anvil: Anvil | undefined;
let stopping = false;
let interrupt: () => void = () => {};
const interrupted = new Promise<'interrupted'>((resolve) => (interrupt = () => resolve('interrupted')));
process.on('SIGINT', () => {
  if (stopping || !anvil) process.exit(130);
  stopping = true;
  interrupt();
  say('\nstopping after this block (Ctrl-C again to quit at once)…');
});

say('corral TWAP demo: building the contract and the module…');
await buildFixtures(['ComposableCoW', 'DemoOnly', 'twap-monitor']);
anvil = await startAnvil({ chainId: 31337, detached: true });
const cow = await deployComposableCow(anvil.url);
const orderBook = await startOrderBook({ balanceOf: (owner) => cow.balanceOf(owner as `0x${string}`) });
const stateDir = mkdtempSync(join(tmpdir(), 'corral-twap-demo-'));
const env = { ...process.env, TWAP_STATE_DIR: stateDir, TWAP_RPC_URL: anvil.wsUrl, TWAP_ORDERBOOK_URL: orderBook.url, COMPOSABLE_COW: cow.address };
const { config } = await loadConfig(fileURLToPath(new URL('../engine.toml', import.meta.url)), env);
const logFile = join(stateDir, 'corral.log');
const corral = await startConfigured(config, { logger: pino({ name: 'corral', level: 'info' }, pino.destination({ dest: logFile, sync: true })) });
const { engine } = corral;
say(`anvil ${anvil.url} · order book ${orderBook.url} · ComposableCoW ${cow.address} · state ${stateDir}`);

const view: DemoView = { scenario: Scenario.standard(cow), engine, orderBook, module: 'twap-monitor', signals: [], head: 0n, ticks };
engine.signals$.subscribe((s) => view.signals.push(`${s.type} ${'signal' in s && s.signal ? String((s.signal as { name?: string }).name) : ''}`.trim()));
// A module that is quarantined (or halted) never reaches the next block: the demo stops and says so.
const haltedModule = firstValueFrom(engine.signals$.pipe(filter((s) => s.type === 'Quarantined' || s.type === 'ReorgBeyondWindow'))).then((s) => `halted: ${s.type}`);

let ended = 'completed';
await view.scenario.run(0, ticks, async (tick, block) => {
  view.head = block;
  view.tick = tick;
  const reached = await Promise.race([engine.reached(view.module, 31337, block).then(() => 'reached'), interrupted, haltedModule]);
  if (live) process.stdout.write(`\x1b[H\x1b[2J${await renderDemo(view)}\n`);
  else if (tick % 20 === 19) say(`block ${block}: ${orderBook.accepted.length} parts posted`);
  if (reached !== 'reached' || stopping) {
    ended = stopping ? 'interrupted' : reached;
    return 'stop';
  }
  await new Promise((resolve) => setTimeout(resolve, paceMs)); // the demo's pace, for people to watch
});
let matches = false;
try {
  const summary = await summarize(view);
  matches = summary.matches;
  say(summary.text);
} catch (error) {
  say(`no summary: ${(error as Error).message}`);
}
await corral.stop();
await orderBook.close();
await anvil.stop();
if (ended !== 'completed') say(`the demo ${ended} at block ${view.head}`);
if (matches && ended === 'completed' && !flags['keep-state']) rmSync(stateDir, { recursive: true, force: true });
else say(`state and logs kept: ${stateDir} (npx corral inspect ${stateDir} --module twap-monitor)`);
process.exitCode = ended === 'interrupted' ? 130 : matches && ended === 'completed' ? 0 : 1;
