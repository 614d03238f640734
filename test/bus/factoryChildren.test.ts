import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAbiParameters, pad, toEventSelector } from 'viem';
import { describe, expect, it } from 'vitest';
import { afterCreation, childChunks, creationOf, creationsIn, creationWrite } from '../../src/bus/factoryChildren.ts';
import { chainInterests, factoryOf, type FactoryTrigger } from '../../src/bus/triggers.ts';
import type { ChainLog } from '../../src/chain/types.ts';
import { loadConfig } from '../../src/config/loadConfig.ts';
import { ConfigError } from '../../src/errors/ConfigError.ts';
import { POOL_CREATED } from '../factory.ts';
import { fixture } from '../helpers.ts';

const FACTORY = '0x1f98431c8ad98523631ae4a59f267346ea31f984';
const trigger = (extra: Partial<FactoryTrigger> = {}): FactoryTrigger => ({ kind: 'log', chain: 1, topics: [], address: { factory: FACTORY, event: POOL_CREATED, parameter: 'pool' }, ...extra });
const child = (n: number): `0x${string}` => `0x${n.toString(16).padStart(40, '0')}`;
const selector = toEventSelector(`event ${POOL_CREATED}`);

/** A PoolCreated log of the factory naming `pool`, at (block, index). */
function created(pool: string, block: number, logIndex: number): ChainLog {
  return {
    chainId: 1n,
    address: FACTORY,
    topics: [selector, pad(child(0xa)), pad(child(0xb)), pad('0x0bb8')],
    data: encodeAbiParameters([{ type: 'int24' }, { type: 'address' }], [60, pool as `0x${string}`]),
    blockNumber: BigInt(block),
    blockHash: `0x${'0'.repeat(64)}`,
    transactionHash: `0x${'0'.repeat(64)}`,
    logIndex,
    removed: false,
  };
}
const logAt = (address: string, block: number, logIndex: number): ChainLog => ({ ...created(child(1), block, logIndex), address, topics: [], data: '0x' });

describe('factory triggers', () => {
  it("error: engine.toml refuses a factory event that does not parse or does not name the parameter as an address, naming the module's trigger", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-factory-'));
    const file = join(dir, 'engine.toml');
    const toml = (event: string, parameter: string) =>
      `[chains.1]\nrpc_url = "http://127.0.0.1:8545"\n[[modules]]\nname = "w"\ncomponent = "${fixture('watcher')}"\ntriggers = [{ kind = "block", chain = 1 }, { kind = "log", chain = 1, address = { factory = "${FACTORY}", event = "${event}", parameter = "${parameter}" } }]\n`;
    const cases = [
      ['PoolCreated(address,address,uint24,int24,address)', 'pool', 'parameter'], // unnamed: names nothing
      ['PoolCreated(address indexed token0, uint24 fee', 'fee', 'event'],
      ['PoolCreated(address indexed token0, uint24 fee)', 'fee', 'parameter'], // not an address
    ] as const;
    for (const [event, parameter, field] of cases) {
      writeFileSync(file, toml(event, parameter));
      const error = await loadConfig(file).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).details.problems).toEqual([expect.objectContaining({ path: `modules[0].triggers[1].address.${field}` })]);
    }
    writeFileSync(file, toml(POOL_CREATED, 'pool'));
    expect((await loadConfig(file)).config.modules[0]!.triggers[1]).toEqual(trigger());
  });

  it('default: the creation filter is the factory and the event; triggers of one factory, event and parameter share one child set', () => {
    const factory = factoryOf(trigger());
    expect(factory.creation.filter).toEqual({ address: [FACTORY], topics: [selector] });
    expect(factoryOf(trigger({ topics: [selector] })).id).toBe(factory.id);
    const interests = chainInterests([trigger(), trigger({ topics: [selector] }), trigger()]);
    expect(Array.isArray(interests) && interests[0]!.factories.map((f) => f.topics)).toEqual([[], [selector]]);
    expect(chainInterests([trigger(), { kind: 'block', chain: 1, every: 1, latestOnly: true }])).toEqual(expect.stringContaining('latestOnly'));
  });

  it('behavior: creations name the parameter (unindexed here), first creation wins, and a log that does not decode names no child', () => {
    const factory = factoryOf(trigger());
    const bad = { ...created(child(9), 5, 3), data: '0x1234' };
    const { creations, undecodable } = creationsIn([created(child(1), 5, 0), created(child(2), 5, 1), created(child(1), 6, 0), bad, created(child(3), 7, 0)], factory, new Map([[child(3), { block: 2n, logIndex: 0 }]]));
    expect(creations.map((c) => [c.address, c.position])).toEqual([
      [child(1), { block: 5n, logIndex: 0 }],
      [child(2), { block: 5n, logIndex: 1 }],
    ]);
    expect(undecodable).toBe(1);
    const write = creationWrite(1n, creations[1]!);
    expect(creationOf(1n, [factory], write)).toEqual(creations[1]);
    expect(creationOf(2n, [factory], write)).toBeUndefined();
  });

  it('behavior: a child named in a topic (indexed) or after a dynamic input (decoded in full) is found too', () => {
    const indexed = factoryOf(trigger({ address: { factory: FACTORY, event: 'Made(address indexed child, uint256 n)', parameter: 'child' } }));
    expect(indexed.event.slot).toEqual({ topic: 1, topics: 2 });
    const topicLog = { ...created(child(1), 1, 0), topics: [indexed.event.selector, pad(child(7))], data: encodeAbiParameters([{ type: 'uint256' }], [1n]) };
    expect(creationsIn([topicLog], indexed, new Map()).creations.map((c) => c.address)).toEqual([child(7)]);
    const dynamic = factoryOf(trigger({ address: { factory: FACTORY, event: 'Named(string name, address child)', parameter: 'child' } }));
    expect(dynamic.event.slot).toBeUndefined();
    const dynamicLog = { ...created(child(1), 1, 0), topics: [dynamic.event.selector], data: encodeAbiParameters([{ type: 'string' }, { type: 'address' }], ['pool', child(8)]) };
    expect(creationsIn([dynamicLog, { ...dynamicLog, data: '0x00' }], dynamic, new Map())).toEqual({ creations: [expect.objectContaining({ address: child(8) })], undecodable: 1 });
  });

  it("behavior: a child's logs count after its creation log only; chunks of addresses start at their earliest child's creation", () => {
    const children = new Map([
      [child(1), { block: 10n, logIndex: 4 }],
      [child(2), { block: 3n, logIndex: 0 }],
      [child(3), { block: 20n, logIndex: 0 }],
    ]);
    const logs = [logAt(child(1), 9, 0), logAt(child(1), 10, 4), logAt(child(1), 10, 5), logAt(child(2), 11, 0), logAt(child(4), 12, 0)];
    expect(afterCreation(logs, children).map((l) => [l.address, l.blockNumber, l.logIndex])).toEqual([
      [child(1), 10n, 5],
      [child(2), 11n, 0],
    ]);
    expect(childChunks(children, [], 2, 5n).map((c) => [c.filter.address, c.from])).toEqual([
      [[child(1), child(2)], 5n],
      [[child(3)], 20n],
    ]);
    expect(childChunks(new Map(), [], 2, 5n)).toEqual([]);
  });
});
