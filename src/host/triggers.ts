import type * as Triggers from './generated/corral-module-triggers.js';
import { DEFAULT_TRIGGER_ADDRESSES } from '../limits/defaults.ts';
import { childPrefix } from '../store/reservedKeys.ts';
import { fault } from './fault.ts';
import type { HostImplementation } from './HostImplementation.ts';
import type { InvocationScope } from './InvocationScope.ts';

/** One of the module's named log triggers, as the host needs it (src/bus/triggers.ts, AddedFilter). */
export interface NamedTrigger {
  name: string;
  chainId: bigint;
  /** Its added-address set's id in the module's state. */
  id: string;
  /** The manifest's addresses (lower-case). */
  static: readonly string[];
}

/**
 * After the step's block, before any later one: an added address's logs count from the next block
 * (src/bus/factoryChildren.ts's afterCreation delivers only logs after this position).
 */
const AFTER_BLOCK = Number.MAX_SAFE_INTEGER;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * `corral:module/triggers`: an added address is a reserved key beside a factory's children
 * (`child/<chain>/<id>/<address>` → `<block>:<AFTER_BLOCK>`), staged in the step's overlay: it exists
 * only if the step commits, a reorg's undo of the step's block takes it back, and the chain feed reads
 * the set again after each of its commits. Only a chain step of the trigger's chain has a block for it
 * to count from. Each key counts toward `storedBytes`; `caps` bound the addresses a step may add and a
 * trigger may have added.
 */
export function triggersHost(scope: InvocationScope, triggers: readonly NamedTrigger[], caps: { perStep: number; total: number } = DEFAULT_TRIGGER_ADDRESSES): HostImplementation<typeof Triggers> {
  const tx = scope.transaction;
  let addedThisStep = 0;
  /** Each trigger's added addresses, counted once per invocation (staged adds and removes then keep it). */
  const counts = new Map<string, number>();
  const resolve = (name: string, given: string) => {
    const trigger = triggers.find((t) => t.name === name);
    if (!trigger) throw fault({ tag: 'not-found', val: `${scope.module} has no log trigger named "${name}"` });
    if (!ADDRESS.test(given)) throw fault({ tag: 'invalid-input', val: `address "${given.slice(0, 64)}": a 20-byte hex address` });
    const block = scope.chainBlock;
    if (block === undefined || block.chainId !== trigger.chainId) {
      throw fault({ tag: 'invalid-input', val: `trigger "${name}" follows chain ${trigger.chainId}: its addresses change only in a step of that chain` });
    }
    const address = given.toLowerCase();
    const prefix = childPrefix(trigger.chainId, trigger.id);
    return { trigger, address, prefix, key: Buffer.concat([prefix, Buffer.from(address, 'utf8')]), block: block.number };
  };
  const countOf = async (id: string, prefix: Uint8Array) => {
    let count = counts.get(id);
    if (count === undefined) counts.set(id, (count = (await tx.listKeys(prefix, undefined, caps.total + 1)).length));
    return count;
  };
  return {
    async addAddress(name: string, given: string): Promise<void> {
      const { trigger, address, prefix, key, block } = resolve(name, given);
      if (trigger.static.includes(address) || tx.get(key) !== undefined) return;
      if (addedThisStep >= caps.perStep) throw fault({ tag: 'limit', val: 'trigger-addresses-per-step' });
      const count = await countOf(trigger.id, prefix);
      if (count >= caps.total) throw fault({ tag: 'limit', val: 'trigger-addresses' });
      tx.set(key, Buffer.from(`${block}:${AFTER_BLOCK}`, 'utf8'), (sizeDelta) => scope.check('storedBytes', scope.state.storedBytes + sizeDelta));
      addedThisStep++;
      counts.set(trigger.id, count + 1);
    },
    async removeAddress(name: string, given: string): Promise<void> {
      const { trigger, address, prefix, key } = resolve(name, given);
      if (trigger.static.includes(address)) throw fault({ tag: 'invalid-input', val: `${address} is one of trigger "${name}"'s addresses in the manifest; only added addresses are removed at run time` });
      if (tx.get(key) === undefined) return;
      const count = await countOf(trigger.id, prefix);
      tx.delete(key);
      counts.set(trigger.id, count - 1);
    },
  };
}
