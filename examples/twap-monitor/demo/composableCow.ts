import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createPublicClient, createWalletClient, encodeAbiParameters, http, keccak256, type Abi, type Address, type Hex } from 'viem';
import { foundry } from 'viem/chains';

const artifactPath = fileURLToPath(new URL('../build/ComposableCoW.json', import.meta.url));

/** TWAP.sol's static input (times in seconds). */
export interface Twap {
  sellToken: Address;
  buyToken: Address;
  receiver: Address;
  partSellAmount: bigint;
  minPartLimit: bigint;
  t0: bigint;
  n: bigint;
  t: bigint;
  span: bigint;
  appData: Hex;
}

const TWAP_DATA = [
  {
    type: 'tuple',
    components: [
      { name: 'sellToken', type: 'address' },
      { name: 'buyToken', type: 'address' },
      { name: 'receiver', type: 'address' },
      { name: 'partSellAmount', type: 'uint256' },
      { name: 'minPartLimit', type: 'uint256' },
      { name: 't0', type: 'uint256' },
      { name: 'n', type: 'uint256' },
      { name: 't', type: 'uint256' },
      { name: 'span', type: 'uint256' },
      { name: 'appData', type: 'bytes32' },
    ],
  },
] as const;
const PARAMS = [{ type: 'tuple', components: [{ name: 'handler', type: 'address' }, { name: 'salt', type: 'bytes32' }, { name: 'staticInput', type: 'bytes' }] }] as const;

/**
 * The demo contract (contracts/ComposableCoW.sol) deployed on a dev chain whose accounts the node
 * signs for (anvil's): the driver of the demo and of the tests.
 */
export async function deployComposableCow(rpcUrl: string) {
  const artifact = JSON.parse(readFileSync(artifactPath, 'utf8')) as { abi: Abi; bytecode: Hex };
  const transport = http(rpcUrl);
  const client = createPublicClient({ chain: foundry, transport, pollingInterval: 5 });
  // anvil signs for its accounts: no keys here.
  const accounts = (await client.request({ method: 'eth_accounts' } as never)) as Address[];
  const wallet = (index: number) => createWalletClient({ chain: foundry, transport, account: accounts[index]! });
  const deployed = await wallet(0).deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, account: accounts[0]! });
  const receipt = await client.waitForTransactionReceipt({ hash: deployed, pollingInterval: 5 });
  const address = receipt.contractAddress!.toLowerCase() as Address;
  /** Sends one transaction as account `owner` (one block under automine); resolves with its block. */
  const send = async (owner: number, functionName: string, args: unknown[]): Promise<bigint> => {
    const hash = await wallet(owner).writeContract({ address, abi: artifact.abi, functionName, args } as never);
    const mined = await client.waitForTransactionReceipt({ hash, pollingInterval: 5 });
    if (mined.status !== 'success') throw new Error(`${functionName} reverted in block ${mined.blockNumber}`);
    return mined.blockNumber;
  };
  return {
    address,
    client,
    deployedAt: receipt.blockNumber,
    owner: (index: number) => accounts[index]!.toLowerCase() as Address,
    /** The ABI of `ConditionalOrderParams` for a TWAP, and its hash (what `remove` takes). */
    params(twap: Twap, salt: Hex) {
      const staticInput = encodeAbiParameters(TWAP_DATA, [twap]);
      const params = { handler: address, salt, staticInput };
      return { params, hash: keccak256(encodeAbiParameters(PARAMS, [params])) };
    },
    create: (owner: number, twap: Twap, salt: Hex) => send(owner, 'create', [{ handler: address, salt, staticInput: encodeAbiParameters(TWAP_DATA, [twap]) }, true]),
    remove: (owner: number, hash: Hex) => send(owner, 'remove', [hash]),
    deposit: (owner: number, amount: bigint) => send(owner, 'deposit', [amount]),
    hold: (owner: number, untilBlock: bigint) => send(owner, 'hold', [untilBlock]),
    /**
     * Many orders at once (a benchmark's setup): automine off, every `create` sent, blocks mined until
     * all are in, automine back on. Resolves with the blocks that hold them.
     */
    async createMany(orders: { owner: number; twap: Twap; salt: Hex; staticInput?: Hex }[]): Promise<bigint[]> {
      await client.request({ method: 'evm_setAutomine', params: [false] } as never);
      const hashes: Hex[] = [];
      // `staticInput` replaces the TWAP's encoding (a test's malformed order).
      for (const { owner, twap, salt, staticInput } of orders) {
        const params = { handler: address, salt, staticInput: staticInput ?? encodeAbiParameters(TWAP_DATA, [twap]) };
        hashes.push(await wallet(owner).writeContract({ address, abi: artifact.abi, functionName: 'create', args: [params, true] } as never));
      }
      const blocks = new Set<bigint>();
      for (const hash of hashes) {
        for (;;) {
          const receipt = await client.getTransactionReceipt({ hash }).catch(() => undefined);
          if (receipt) {
            if (receipt.status !== 'success') throw new Error(`create reverted in block ${receipt.blockNumber}`);
            blocks.add(receipt.blockNumber);
            break;
          }
          await client.request({ method: 'evm_mine' } as never);
        }
      }
      await client.request({ method: 'evm_setAutomine', params: [true] } as never);
      return [...blocks].sort((a, b) => (a < b ? -1 : 1));
    },
    /** One empty block. */
    mine: async (): Promise<bigint> => {
      await client.request({ method: 'evm_mine' } as never);
      return client.getBlockNumber({ cacheTime: 0 });
    },
  };
}

export type ComposableCow = Awaited<ReturnType<typeof deployComposableCow>>;
