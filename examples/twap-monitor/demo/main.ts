/**
 * `npm start`: the TWAP watcher end to end on this machine, no network. Builds the contract and the
 * module, starts an anvil chain, a local order book and corral (on engine.toml, as `corral run`
 * would), then plays the scenario (demo/scenario.ts) one block at a time and shows what the watcher
 * does. Ends with a summary that compares what was posted with the schedule the TWAP rules give;
 * exit code 1 if they differ. Ctrl-C stops early, gracefully. `--blocks N` and `--pace-ms M` change
 * the length and the speed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { buildFixtures } from '../../../fixtures/build.ts';
import { loadConfig } from '../../../src/config/loadConfig.ts';
import { startConfigured } from '../../../src/config/startConfigured.ts';
import { startAnvil } from '../../../src/chain/embeddedAnvil.ts';
import { deployComposableCow } from './composableCow.ts';
import { startOrderBook } from './orderBook.ts';
import { Scenario } from './scenario.ts';
import { renderDemo, summarize, type DemoView } from './view.ts';

const { values: flags } = parseArgs({ options: { blocks: { type: 'string', default: '80' }, 'pace-ms': { type: 'string', default: '250' } } });
const ticks = Number(flags.blocks);
const paceMs = Number(flags['pace-ms']);
const live = process.stdout.isTTY === true;
const say = (line: string) => process.stdout.write(`${line}\n`);

say('corral TWAP demo: building the contract and the module…');
await buildFixtures(['ComposableCoW', 'twap-monitor']);
const anvil = await startAnvil({ chainId: 31337 });
const orderBook = await startOrderBook();
const cow = await deployComposableCow(anvil.url);
const stateDir = mkdtempSync(join(tmpdir(), 'corral-twap-demo-'));
const env = { ...process.env, TWAP_STATE_DIR: stateDir, TWAP_RPC_URL: anvil.wsUrl, TWAP_ORDERBOOK_URL: orderBook.url, COMPOSABLE_COW: cow.address };
const { config } = await loadConfig(fileURLToPath(new URL('../engine.toml', import.meta.url)), env);
const logFile = join(stateDir, 'corral.log');
const corral = await startConfigured(config, { logger: pino({ name: 'corral', level: 'info' }, pino.destination({ dest: logFile, sync: false })) });
const { engine } = corral;
say(`anvil ${anvil.url} · order book ${orderBook.url} · ComposableCoW ${cow.address} · state ${stateDir}`);

const view: DemoView = { scenario: Scenario.standard(cow), engine, orderBook, module: 'twap-monitor', signals: [], head: 0n, ticks };
engine.supervisor.signals$.subscribe((s) => view.signals.push(`${s.type} ${'signal' in s && s.signal ? String((s.signal as { name?: string }).name) : ''}`.trim()));

let stopping = false;
process.once('SIGINT', () => {
  stopping = true;
});
try {
  await view.scenario.run(0, ticks, async (tick, block) => {
    view.head = block;
    view.tick = tick;
    await engine.reached(view.module, 31337, block);
    if (live) process.stdout.write(`\x1b[H\x1b[2J${await renderDemo(view)}\n`);
    else if (tick % 20 === 19) say(`block ${block}: ${orderBook.accepted.length} parts posted`);
    if (stopping) throw new Error('interrupted');
    await new Promise((resolve) => setTimeout(resolve, paceMs)); // the demo's pace, for people to watch
  });
} catch (error) {
  if (!stopping) throw error;
}
const summary = await summarize(view);
await corral.stop();
await orderBook.close();
await anvil.stop();
say(summary.text);
say(`logs: ${logFile}`);
process.exitCode = summary.matches ? 0 : 1;
