import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPublicClient, createWalletClient, encodeFunctionData, getContractAddress, http, type Abi, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import type { Anvil } from './anvil.ts';

/** anvil's first default account: funded on every fresh node. */
const account = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
const build = (name: string) => JSON.parse(readFileSync(join(fileURLToPath(new URL('..', import.meta.url)), 'fixtures', 'build', `${name}.json`), 'utf8')) as { abi: Abi; bytecode: Hex };
const factory = build('Factory');
const emitter = build('Emitter');

/** The creation event of fixtures/contracts/Factory.sol, as a factory trigger declares it. */
export const POOL_CREATED = 'PoolCreated(address indexed token0, address indexed token1, uint24 indexed fee, int24 tickSpacing, address pool)';

/** The Factory contract (fixtures/contracts/Factory.sol) deployed on an anvil node. */
export async function deployFactory(anvil: Pick<Anvil, 'url'>) {
  const transport = http(anvil.url);
  const wallet = createWalletClient({ account, chain: foundry, transport });
  const client = createPublicClient({ chain: foundry, transport, pollingInterval: 5 });
  const hash = await wallet.deployContract({ abi: factory.abi, bytecode: factory.bytecode });
  const deployed = await client.waitForTransactionReceipt({ hash, pollingInterval: 5 });
  const address = deployed.contractAddress!.toLowerCase() as Hex;
  const send = async (to: Hex, abi: Abi, functionName: string, args: unknown[]) => {
    const tx = await wallet.writeContract({ address: to, abi, functionName, args } as never);
    return (await client.waitForTransactionReceipt({ hash: tx, pollingInterval: 5 })).blockNumber;
  };
  return {
    address,
    client,
    deployedAt: deployed.blockNumber,
    /** The address of the factory's `n`-th child (from 1): CREATE addresses follow the factory's nonce, which starts at 1. */
    child: (n: number): Hex => getContractAddress({ from: address, nonce: BigInt(n) }).toLowerCase() as Hex,
    /** One transaction (one block) creating `count` children, each pinging `pingTag` after its creation log (0: no ping). */
    create: (count: number, pingTag = 0) => send(address, factory.abi, 'create', [BigInt(count), BigInt(pingTag)]),
    /** The same call as a transaction request for `anvil_reorg`'s new blocks. */
    createCall: (count: number, pingTag = 0) => ({ from: account.address, to: address, data: encodeFunctionData({ abi: factory.abi, functionName: 'create', args: [BigInt(count), BigInt(pingTag)] }) }),
    /** A child's (or any Emitter's) Pings as a transaction request for `anvil_reorg`'s new blocks. */
    pingCall: (child: Hex, tag: number, count = 1) => ({ from: account.address, to: child, data: encodeFunctionData({ abi: emitter.abi, functionName: 'emitMany', args: [BigInt(tag), BigInt(count)] }) }),
    /** A PoolCreated naming `child`, which the factory did not create. */
    announce: (child: Hex) => send(address, factory.abi, 'announce', [child]),
    /** `count` Pings tagged `tag` from a child (or any Emitter). */
    ping: (child: Hex, tag: number, count = 1) => send(child, emitter.abi, 'emitMany', [BigInt(tag), BigInt(count)]),
  };
}
