import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/loadConfig.ts';
import { startConfigured, type ConfiguredEngine } from '../../src/app/startConfigured.ts';
import type { Anvil } from '../../src/chain/embeddedAnvil.ts';
import { deployComposableCow } from '../../examples/twap-monitor/demo/composableCow.ts';
import { startOrderBook } from '../../examples/twap-monitor/demo/orderBook.ts';
import { monitorState } from '../../examples/twap-monitor/demo/view.ts';

export const MODULE = 'twap-monitor';
const engineToml = fileURLToPath(new URL('../../examples/twap-monitor/engine.toml', import.meta.url));

/**
 * The TWAP example as the demo runs it: the stand-in contracts deployed on `anvil`, a local order book, and
 * corral started from the example's own engine.toml (the demo's environment variables), restartable
 * on the same state directory.
 */
export async function twapWorld(anvil: Anvil) {
  const cow = await deployComposableCow(anvil.url);
  // The order book is the one part that cannot run here: a local stand-in on loopback, which checks
  // the owner's token balance (as api.cow.fi does) but not signatures.
  const orderBook = await startOrderBook({ balanceOf: (owner) => cow.balanceOf(owner as `0x${string}`) });
  const stateDir = mkdtempSync(join(tmpdir(), 'corral-twap-'));
  const env = { TWAP_STATE_DIR: stateDir, TWAP_RPC_URL: anvil.wsUrl, TWAP_ORDERBOOK_URL: orderBook.url, COMPOSABLE_COW: cow.address };
  let running: ConfiguredEngine | undefined;
  return {
    cow,
    orderBook,
    stateDir,
    get engine() {
      return running!.engine;
    },
    /** Starts corral on the example's engine.toml; `settings` is merged into the module's `config`. */
    async start(settings: Record<string, unknown> = {}) {
      const { config } = await loadConfig(engineToml, env);
      const module = config.modules[0]!;
      module.config = JSON.stringify({ ...JSON.parse(module.config), ...settings });
      running = await startConfigured(config, { logger: pino({ level: 'silent' }) });
      return running.engine;
    },
    async stop() {
      await running?.stop();
      running = undefined;
    },
    /** Waits until the module has handled `block`. */
    reached: (block: bigint) => running!.engine.reached(MODULE, 31337, block),
    state: () => monitorState(running!.engine, MODULE),
    async close() {
      await running?.stop();
      await orderBook.close();
    },
  };
}
