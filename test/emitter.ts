import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPublicClient, createWalletClient, encodeFunctionData, http, pad, toEventSelector, toHex, type Abi, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import type { Anvil } from './anvil.ts';

/** anvil's first default account: funded on every fresh node. */
const account = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
const artifact = JSON.parse(readFileSync(join(fileURLToPath(new URL('..', import.meta.url)), 'fixtures', 'build', 'Emitter.json'), 'utf8')) as { abi: Abi; bytecode: Hex };

/** The Emitter contract (fixtures/contracts/Emitter.sol) deployed on an anvil node. */
export async function deployEmitter(anvil: Pick<Anvil, 'url'>) {
  const { wallet, client } = clients(anvil.url);
  const hash = await wallet.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode });
  const { contractAddress, blockNumber } = await client.waitForTransactionReceipt({ hash, pollingInterval: 5 });
  return { ...attachEmitter(anvil.url, contractAddress!.toLowerCase() as Hex), deployedAt: blockNumber };
}

/** An Emitter already deployed at `address`, reached at `url` (e.g. after its node restarted on another port). */
export function attachEmitter(url: string, address: Hex) {
  const { wallet, client } = clients(url);
  return {
    address,
    client,
    /** One transaction (one block under automine) emitting `count` Pings tagged `tag`; resolves with its block. */
    async emit(tag: number, count: number): Promise<bigint> {
      const tx = await wallet.writeContract({ address, abi: artifact.abi, functionName: 'emitMany', args: [BigInt(tag), BigInt(count)] });
      return (await client.waitForTransactionReceipt({ hash: tx, pollingInterval: 5 })).blockNumber;
    },
    /** The same call as a transaction request for `anvil_reorg`'s new blocks (anvil signs it). */
    call(tag: number, count: number) {
      return { from: account.address, to: address, data: encodeFunctionData({ abi: artifact.abi, functionName: 'emitMany', args: [BigInt(tag), BigInt(count)] }) };
    },
  };
}

function clients(url: string) {
  const transport = http(url);
  // anvil mines each transaction as it arrives (automine), a moment after the send returns: poll for it briefly.
  return { wallet: createWalletClient({ account, chain: foundry, transport }), client: createPublicClient({ chain: foundry, transport, pollingInterval: 5 }) };
}

export const PING = toEventSelector('Ping(uint256,uint256)');
export const PONG = toEventSelector('Pong(address,uint256)');
/** The indexed `tag` of a Ping as its topic. */
export const tagTopic = (tag: number): Hex => pad(toHex(tag));
