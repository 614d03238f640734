import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  concat,
  createPublicClient,
  createWalletClient,
  encodeAbiParameters,
  http,
  keccak256,
  type Abi,
  type Address,
  type Hex,
} from 'viem';
import { foundry } from 'viem/chains';

const build = (name: string) => fileURLToPath(new URL(`../build/${name}.json`, import.meta.url));
type Artifacts = Record<string, { abi: Abi; bytecode: Hex }>;
const artifacts = (name: string): Artifacts => (JSON.parse(readFileSync(build(name), 'utf8')) as { contracts: Artifacts }).contracts;

/**
 * The mainnet addresses of ComposableCoW, the TWAP handler and the value factory: the stand-ins' code
 * is placed there (anvil_setCode), so the public SDK (whose TWAP class insists on its handler's
 * address and reads the cabinet at ComposableCoW's) and the module's defaults know them.
 */
export const COMPOSABLE_COW: Address = '0xfdafc9d1902f4e0b84f65f49f244b32b31013b74';
export const TWAP_ADDRESS: Address = '0x6cf1e9ca41f7611def408122793c358a3d11e5a5';
export const CURRENT_BLOCK_TIMESTAMP_FACTORY: Address = '0x52ed56da04309aca4c3fecc595298d80c2f16bac';
/** ComposableCoW.Proof's location for proofs emitted in the MerkleRootSet log. */
export const PROOF_EMITTED = 1n;

/** TWAP.sol's static input (times in seconds; t0 = 0: the cabinet's value, set by createWithContext). */
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

export interface ConditionalOrderParams {
  handler: Address;
  salt: Hex;
  staticInput: Hex;
}

export const TWAP_DATA = [
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
const PARAMS_COMPONENTS = [
  { name: 'handler', type: 'address' },
  { name: 'salt', type: 'bytes32' },
  { name: 'staticInput', type: 'bytes' },
] as const;
const PARAMS = [{ type: 'tuple', components: PARAMS_COMPONENTS }] as const;
const EMITTED_PROOFS = [{ type: 'tuple[]', components: [{ name: 'proof', type: 'bytes32[]' }, { name: 'params', type: 'tuple', components: PARAMS_COMPONENTS }] }] as const;

/** ComposableCoW.hash(params): a single order's id and context. */
export const orderHash = (params: ConditionalOrderParams): Hex => keccak256(encodeAbiParameters(PARAMS, [params]));

/**
 * A Merkle tree over orders as ComposableCoW checks it: each leaf is keccak256(hash(params)), pairs
 * are hashed in sorted order (OpenZeppelin's MerkleProof). Returns the root and each leaf's proof.
 */
export function merkleTree(leaves: ConditionalOrderParams[]): { root: Hex; proofs: Hex[][] } {
  const pair = (a: Hex, b: Hex) => keccak256(BigInt(a) < BigInt(b) ? concat([a, b]) : concat([b, a]));
  let layer = leaves.map((p) => keccak256(orderHash(p)));
  const positions = leaves.map((_, i) => i);
  const proofs: Hex[][] = leaves.map(() => []);
  while (layer.length > 1) {
    const next: Hex[] = [];
    for (let i = 0; i < layer.length; i += 2) next.push(i + 1 < layer.length ? pair(layer[i]!, layer[i + 1]!) : layer[i]!);
    positions.forEach((at, leaf) => {
      const sibling = at ^ 1;
      if (sibling < layer.length) proofs[leaf]!.push(layer[sibling]!);
      positions[leaf] = at >> 1;
    });
    layer = next;
  }
  return { root: layer[0]!, proofs };
}

/**
 * The stand-in contracts (contracts/ComposableCoW.sol, and DemoOnly.sol's token and flaky handler)
 * deployed on a dev chain whose accounts the node signs for (anvil's): the driver of the demo, the
 * tests and the benchmark.
 */
export async function deployComposableCow(rpcUrl: string) {
  const real = artifacts('ComposableCoW');
  const demo = artifacts('DemoOnly');
  const transport = http(rpcUrl);
  const client = createPublicClient({ chain: foundry, transport, pollingInterval: 5 });
  const request = (method: string, params: unknown[] = []) => client.request({ method, params } as never) as Promise<unknown>;
  // anvil signs for its accounts: no keys here.
  const accounts = (await request('eth_accounts')) as Address[];
  const wallet = (index: number) => createWalletClient({ chain: foundry, transport, account: accounts[index]! });
  const deploy = async (artifact: { abi: Abi; bytecode: Hex }, args: unknown[] = []) => {
    const hash = await wallet(0).deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args, account: accounts[0]! } as never);
    const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 5 });
    return { address: receipt.contractAddress!.toLowerCase() as Address, block: receipt.blockNumber };
  };
  const address = COMPOSABLE_COW;
  // Each at its mainnet address (the TWAP's immutable points at ComposableCoW's; none has constructor state).
  for (const [artifact, args, at] of [
    [real.ComposableCoW!, [], COMPOSABLE_COW],
    [real.TWAP!, [address], TWAP_ADDRESS],
    [real.CurrentBlockTimestampFactory!, [], CURRENT_BLOCK_TIMESTAMP_FACTORY],
  ] as const) {
    const deployed = await deploy(artifact, [...args]);
    await request('anvil_setCode', [at, await client.getCode({ address: deployed.address })]);
  }
  const token = (await deploy(demo.DemoToken!)).address;
  const flaky = (await deploy(demo.FlakyHandler!)).address;

  /** Sends one transaction as account `owner` (one block under automine); resolves with its block. */
  const send = async (owner: number, to: Address, abi: Abi, functionName: string, args: unknown[]): Promise<bigint> => {
    const hash = await wallet(owner).writeContract({ address: to, abi, functionName, args } as never);
    const mined = await client.waitForTransactionReceipt({ hash, pollingInterval: 5 });
    if (mined.status !== 'success') throw new Error(`${functionName} reverted in block ${mined.blockNumber}`);
    return mined.blockNumber;
  };
  const cowAbi = real.ComposableCoW!.abi;
  /** ComposableCoW transactions sent with automine off, then blocks mined until all are in; the blocks that hold them. */
  const sendMany = async (calls: { owner: number; functionName: string; args: unknown[] }[]): Promise<bigint[]> => {
    await request('evm_setAutomine', [false]);
    const hashes: Hex[] = [];
    for (const { owner, functionName, args } of calls) hashes.push(await wallet(owner).writeContract({ address, abi: cowAbi, functionName, args } as never));
    const blocks = new Set<bigint>();
    for (const hash of hashes) {
      for (;;) {
        const receipt = await client.getTransactionReceipt({ hash }).catch(() => undefined);
        if (receipt) {
          if (receipt.status !== 'success') throw new Error(`transaction reverted in block ${receipt.blockNumber}`);
          blocks.add(receipt.blockNumber);
          break;
        }
        await request('evm_mine');
      }
    }
    await request('evm_setAutomine', [true]);
    return [...blocks].sort((a, b) => (a < b ? -1 : 1));
  };
  // The handlers' errors come back through getTradeableOrderWithSignature: decoded with its ABI.
  const errors = [...real.TWAP!.abi, ...demo.FlakyHandler!.abi].filter((item) => item.type === 'error');
  const pollAbi = [...cowAbi, ...errors] as Abi;
  const twapParams = (twap: Twap, salt: Hex): ConditionalOrderParams => ({ handler: TWAP_ADDRESS, salt, staticInput: encodeAbiParameters(TWAP_DATA, [twap]) });
  return {
    address,
    client,
    /** DemoToken: the demo's sell token, whose balances the local order book checks. */
    token,
    /** FlakyHandler: reverts with a custom error while down. */
    flaky,
    abi: cowAbi,
    owner: (index: number) => accounts[index]!.toLowerCase() as Address,
    /** A TWAP's `ConditionalOrderParams` and its hash (what `remove` takes). */
    params(twap: Twap, salt: Hex) {
      const params = twapParams(twap, salt);
      return { params, hash: orderHash(params) };
    },
    create: (owner: number, twap: Twap, salt: Hex) => send(owner, address, cowAbi, 'create', [twapParams(twap, salt), true]),
    /** create, with the cabinet set to the block's timestamp (a TWAP with t0 = 0 starts there). */
    createWithContext: (owner: number, twap: Twap, salt: Hex) =>
      send(owner, address, cowAbi, 'createWithContext', [twapParams(twap, salt), CURRENT_BLOCK_TIMESTAMP_FACTORY, '0x', true]),
    createParams: (owner: number, params: ConditionalOrderParams) => send(owner, address, cowAbi, 'create', [params, true]),
    remove: (owner: number, hash: Hex) => send(owner, address, cowAbi, 'remove', [hash]),
    /** Sets the owner's Merkle root over `leaves`, the proofs emitted in the log. Returns each leaf's proof. */
    async setRoot(owner: number, leaves: ConditionalOrderParams[]) {
      const { root, proofs } = merkleTree(leaves);
      const data = encodeAbiParameters(EMITTED_PROOFS, [leaves.map((params, i) => ({ proof: proofs[i]!, params }))]);
      const block = await send(owner, address, cowAbi, 'setRoot', [root, { location: PROOF_EMITTED, data }]);
      return { block, root, proofs };
    },
    /** Demo-only: gives the owner `amount` of the sell token. */
    fund: (owner: number, amount: bigint) => send(0, token, demo.DemoToken!.abi, 'mint', [accounts[owner]!, amount]),
    /** Demo-only: the owner's sell-token balance at `block` (what the local order book checks). */
    balanceOf: async (owner: Address, block?: bigint): Promise<bigint> =>
      (await client.readContract({ address: token, abi: demo.DemoToken!.abi, functionName: 'balanceOf', args: [owner], ...(block === undefined ? {} : { blockNumber: block }) })) as bigint,
    /** Demo-only: the flaky handler's state. */
    setFlakyDown: (down: boolean) => send(0, flaky, demo.FlakyHandler!.abi, 'setDown', [down]),
    /**
     * The oracle: what getTradeableOrderWithSignature answers at `block` (as the contract sees it then):
     * the part's validTo, or the error's name and arguments.
     */
    async tradeable(owner: Address, params: ConditionalOrderParams, proof: Hex[], block: bigint): Promise<{ validTo: number } | { error: string; args: readonly unknown[] }> {
      try {
        const { result } = await client.simulateContract({ address, abi: pollAbi, functionName: 'getTradeableOrderWithSignature', args: [owner, params, '0x', proof], blockNumber: block });
        return { validTo: Number((result as unknown as [{ validTo: number }])[0].validTo) };
      } catch (error) {
        const cause = (error as { walk?: (f: (e: unknown) => boolean) => unknown }).walk?.((e) => typeof (e as { data?: unknown }).data === 'object') as
          | { data?: { errorName: string; args?: readonly unknown[] } }
          | undefined;
        if (!cause?.data) throw error;
        return { error: cause.data.errorName, args: cause.data.args ?? [] };
      }
    },
    /**
     * Many orders at once (a benchmark's setup): automine off, every transaction sent, blocks mined
     * until all are in, automine back on. Resolves with the blocks that hold them.
     */
    async createMany(orders: { owner: number; twap: Twap; salt: Hex; staticInput?: Hex; withContext?: boolean }[]): Promise<bigint[]> {
      // `staticInput` replaces the TWAP's encoding (a test's malformed order).
      return sendMany(
        orders.map(({ owner, twap, salt, staticInput, withContext }) => {
          const params = { ...twapParams(twap, salt), ...(staticInput ? { staticInput } : {}) };
          return withContext
            ? { owner, functionName: 'createWithContext', args: [params, CURRENT_BLOCK_TIMESTAMP_FACTORY, '0x', true] }
            : { owner, functionName: 'create', args: [params, true] };
        }),
      );
    },
    /** Many removals at once, as createMany. */
    removeMany: (orders: { owner: number; hash: Hex }[]) => sendMany(orders.map(({ owner, hash }) => ({ owner, functionName: 'remove', args: [hash] }))),
    /** One empty block. */
    mine: async (): Promise<bigint> => {
      await request('evm_mine');
      return client.getBlockNumber({ cacheTime: 0 });
    },
  };
}

export type ComposableCow = Awaited<ReturnType<typeof deployComposableCow>>;
