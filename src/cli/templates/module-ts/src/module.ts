// __NAME__: a corral module in TypeScript. The engine calls `onEvent` once per event its triggers match
// (engine.toml), in order; what it writes to the store commits together with the event, or not at all
// when it throws. build.mjs bundles this file and the npm packages it imports (viem here) with esbuild,
// then compiles the bundle to a component with componentize-qjs (QuickJS inside the component).
import type { Event } from 'corral/guest';
import { type LogLike, decodeLog, eventSelectors } from 'corral/guest/events';
import { log } from 'corral/guest/logging';
import * as store from 'corral/guest/store';
import { erc20Abi } from 'viem';

// Keccak runs interpreted inside the component (tens of millions of fuel a hash): the selectors of the
// events decodeLog matches are computed here, at initialisation, which componentize-qjs runs at build time.
eventSelectors(erc20Abi);

let greeting = 'hello';

/** Called on every fresh instance with the module's `config` (engine.toml: a table arrives as JSON). */
export function configure(config: string): void {
  if (config) greeting = (JSON.parse(config) as { greeting?: string }).greeting ?? greeting;
}

export function onEvent(event: Event): void {
  switch (event.tag) {
    case 'custom':
      // engine.publish('greet', '{"name":"ada"}') from an application, or the test beside this module; on
      // `transfer`, an ERC-20 Transfer log the application got elsewhere ({ topics, data }).
      if (event.val.topic === 'transfer') return onTransfer(JSON.parse(event.val.payload) as LogLike);
      return onGreet(JSON.parse(event.val.payload) as { name?: unknown });
    case 'log':
      // A log trigger on a token: `{ kind = "log", chain = 1, address = "0x…" }` in engine.toml.
      return onTransfer(event.val);
    case 'block': {
      // A block trigger: how many blocks the module has handled, and the last one.
      const blocks = (store.getJson<number>('blocks') ?? 0) + 1;
      store.setJson('blocks', blocks);
      store.set('last-block', String(event.val.number));
      log('debug', `block ${event.val.number}`, { blocks });
      return;
    }
    case 'timer': // a timer the module set (grant `timers`, import corral:module/timers)
    case 'schedule': // a tick of a `cron` trigger
      return;
  }
}

function onGreet({ name }: { name?: unknown }): void {
  // A throw returns `err`: the event is dropped with its writes, and the module goes on to the next.
  if (typeof name !== 'string' || name === '') throw new Error('the payload needs a "name" string');
  const count = (store.getJson<number>('count') ?? 0) + 1;
  store.setJson('count', count);
  store.set(`greeted/${name}`, `${greeting}, ${name}`);
  log('info', `${greeting}, ${name}`, { count });
}

/** What each address received, in the token's base units: a decimal string (JSON has no BigInt). */
function onTransfer(entry: LogLike): void {
  const { eventName, args } = decodeLog(erc20Abi, entry);
  if (eventName !== 'Transfer') return;
  const key = `received/${args.to}`;
  store.set(key, String(BigInt(store.getString(key) ?? '0') + args.value));
  log('debug', 'transfer', { from: args.from, to: args.to, value: args.value });
}
