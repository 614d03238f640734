/**
 * The TWAP watcher before and after it moved to TypeScript on corral/guest and viem (issue 25): the size of
 * its JavaScript and of its component, and the fuel it burns for the same work, side by side in one run.
 * "Before" is the last plain JavaScript module (twap-monitor.js at BEFORE_COMMIT, compiled here as it was);
 * "after" is examples/twap-monitor/src as fixtures/build.ts bundles it. Each runs alone on a fresh anvil:
 * ORDERS TWAPs created in one block (their first part due at once), then BLOCKS blocks with a part due
 * every other block. Fuel per new order: the creation step's fuel over the orders (each also polled and a
 * part posted); fuel per part: the median over the later steps that posted parts, over the parts posted.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentize } from 'componentize-qjs';
import { pino } from 'pino';
import { pad, toHex, type Hex } from 'viem';
import { buildFixtures, bundleModule } from '../fixtures/build.ts';
import { loadConfig } from '../src/config/loadConfig.ts';
import { startConfigured } from '../src/app/startConfigured.ts';
import { startAnvil } from '../src/chain/embeddedAnvil.ts';
import { deployComposableCow, type Twap } from '../examples/twap-monitor/demo/composableCow.ts';
import { startOrderBook } from '../examples/twap-monitor/demo/orderBook.ts';
import { monitorState } from '../examples/twap-monitor/demo/view.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const BEFORE_COMMIT = '058e0d9';
const ORDERS = 10;
const BLOCKS = 8;
const MODULE = 'twap-monitor';
const root = fileURLToPath(new URL('..', import.meta.url));
const example = (path: string) => join(root, 'examples', 'twap-monitor', path);

/** The plain JavaScript watcher as it was, compiled as fixtures/build.ts compiled it then. */
async function buildBefore(): Promise<{ js: string; wasm: string }> {
  const js = execFileSync('git', ['show', `${BEFORE_COMMIT}:examples/twap-monitor/twap-monitor.js`], { cwd: root, encoding: 'utf8' });
  const witDir = mkdtempSync(join(tmpdir(), 'corral-twap-before-'));
  mkdirSync(join(witDir, 'deps', 'corral-module'), { recursive: true });
  writeFileSync(join(witDir, 'twap-monitor.wit'), readFileSync(example('twap-monitor.wit')));
  writeFileSync(join(witDir, 'deps', 'corral-module', 'module.wit'), readFileSync(join(root, 'wit', 'module.wit')));
  writeFileSync(join(witDir, 'twap-monitor.js'), js);
  const { component } = await componentize({ witPath: witDir, jsSource: js, jsPath: join(witDir, 'twap-monitor.js'), stubWasi: true, sync: true });
  const wasm = join(witDir, 'twap-monitor.wasm');
  writeFileSync(wasm, component);
  return { js, wasm };
}

async function run(component: string): Promise<{ perOrder: number; perPart: number }> {
  const anvil = await startAnvil();
  const cow = await deployComposableCow(anvil.url);
  const orderBook = await startOrderBook({ balanceOf: (owner) => cow.balanceOf(owner as `0x${string}`) });
  try {
    await cow.client.request({ method: 'anvil_setBlockTimestampInterval', params: [12] } as never);
    await cow.fund(1, 10n ** 30n);
    const now = (await cow.client.getBlock()).timestamp;
    const orders = Array.from({ length: ORDERS }, (_, i) => {
      const twap: Twap = { sellToken: cow.token, buyToken: '0x000000000000000000000000000000000000beef', receiver: cow.owner(1), partSellAmount: 10n ** 18n, minPartLimit: 1n, t0: now, n: 50n, t: 24n, span: 0n, appData: pad('0x0b', { size: 32 }) };
      return { owner: 1, twap, salt: pad(toHex(i + 1), { size: 32 }) as Hex };
    });
    const env = { TWAP_STATE_DIR: mkdtempSync(join(tmpdir(), 'corral-bench-twap-bundle-')), TWAP_RPC_URL: anvil.wsUrl, TWAP_ORDERBOOK_URL: orderBook.url, COMPOSABLE_COW: cow.address };
    const { config } = await loadConfig(example('engine.toml'), env);
    config.modules[0]!.component = component;
    const corral = await startConfigured(config, { logger: pino({ level: 'silent' }) });
    try {
      const fuel: number[] = [];
      corral.engine.invocations$.subscribe((i) => fuel.push(i.fuelUsed ?? 0));
      const created = await cow.createMany(orders);
      if (created.length !== 1) throw new Error(`the orders took ${created.length} blocks, not one`);
      await corral.engine.reached(MODULE, 31337, created[0]!);
      const creation = fuel.splice(0).reduce((a, b) => a + b, 0);
      const steps: { fuel: number; block: bigint }[] = [];
      for (let i = 0; i < BLOCKS; i++) {
        const block = await cow.mine();
        await corral.engine.reached(MODULE, 31337, block);
        steps.push({ fuel: fuel.splice(0).reduce((a, b) => a + b, 0), block });
      }
      const { posted } = await monitorState(corral.engine, MODULE);
      const perPart = steps.flatMap(({ fuel, block }) => {
        const parts = posted.filter((p) => p.block === block).length;
        return parts > 0 ? [fuel / parts] : [];
      });
      if (posted.filter((p) => p.block === created[0]).length !== ORDERS) throw new Error('not every order posted its first part in its creation block');
      return { perOrder: creation / ORDERS, perPart: summarize(perPart).p50 };
    } finally {
      await corral.stop();
    }
  } finally {
    await orderBook.close();
    await anvil.stop();
  }
}

export async function benchTwapBundle(row: Row): Promise<Record<string, unknown>> {
  await buildFixtures(['ComposableCoW', 'DemoOnly', 'twap-monitor']);
  const before = await buildBefore();
  const afterJs = await bundleModule(example('src/module.ts'));
  const afterWasm = example('build/twap-monitor.wasm');
  const size = (path: string) => readFileSync(path).length;
  const b = await run(before.wasm);
  const a = await run(afterWasm);
  const m = (n: number) => `${(n / 1e6).toFixed(1)} M`;
  row('twap bundle: JavaScript, before (one file) vs after (esbuild bundle with viem)', `${(before.js.length / 1024).toFixed(1)} kB vs ${(afterJs.length / 1024).toFixed(1)} kB`);
  row('twap bundle: component, before vs after', `${(size(before.wasm) / 1e6).toFixed(2)} MB vs ${(size(afterWasm) / 1e6).toFixed(2)} MB`);
  row(`twap bundle: fuel per new order (created, polled, first part posted), ${ORDERS} in one block, before vs after`, `${m(b.perOrder)} vs ${m(a.perOrder)} (${(a.perOrder / b.perOrder).toFixed(2)}×)`);
  row('twap bundle: fuel per part posted (p50 over the steps), before vs after', `${m(b.perPart)} vs ${m(a.perPart)} (${(a.perPart / b.perPart).toFixed(2)}×)`);
  return { before: { jsBytes: before.js.length, wasmBytes: size(before.wasm), ...b }, after: { jsBytes: afterJs.length, wasmBytes: size(afterWasm), ...a } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(JSON.stringify(await benchTwapBundle((name, value) => console.log(`${name}: ${value}`))));
}
