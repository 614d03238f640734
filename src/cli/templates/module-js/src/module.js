// __NAME__: a corral module. The engine calls `onEvent` once per event its triggers match (engine.toml),
// in order; what it writes with `set` commits together with the event, or not at all when it throws.
import { get, set } from 'corral:module/store@0.1.0';
import { log } from 'corral:module/logging@0.1.0';

// Inside the component (QuickJS): a WIT u64 is a plain number both ways (a BigInt passed to an import
// traps), there is no clock (Date.now() traps: use a block's timestamp), and no TextEncoder: UTF-8 by hand.
const bytes = (s) => Uint8Array.from(unescape(encodeURIComponent(s)), (c) => c.charCodeAt(0));
const text = (u) => decodeURIComponent(escape(String.fromCharCode(...u)));

let greeting = 'hello';

/** Called on every fresh instance with the module's `config` (engine.toml: a table arrives as JSON). */
export function configure(config) {
  if (config) greeting = JSON.parse(config).greeting ?? greeting;
}

export function onEvent(event) {
  switch (event.tag) {
    case 'custom': {
      // engine.publish('greet', '{"name":"ada"}') from an application, or the test beside this module.
      const { name } = JSON.parse(event.val.payload);
      // A throw returns `err`: the event is dropped with its writes, and the module goes on to the next.
      if (typeof name !== 'string' || name === '') throw 'the payload needs a "name" string';
      const count = Number(text(get(bytes('count')) ?? bytes('0'))) + 1;
      set(bytes('count'), bytes(String(count)));
      set(bytes(`greeted/${name}`), bytes(`${greeting}, ${name}`));
      log('info', `${greeting}, ${name}`, JSON.stringify({ count }));
      return;
    }
    case 'block': {
      // A block trigger: how many blocks the module has handled, and the last one.
      const blocks = Number(text(get(bytes('blocks')) ?? bytes('0'))) + 1;
      set(bytes('blocks'), bytes(String(blocks)));
      set(bytes('last-block'), bytes(String(event.val.number)));
      log('debug', `block ${event.val.number}`, JSON.stringify({ blocks }));
      return;
    }
    case 'log':
    case 'timer': // a timer the module set (grant `timers`, import corral:module/timers)
    case 'schedule': // a tick of a `cron` trigger
      return;
  }
}
