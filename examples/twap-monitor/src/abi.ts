// What twap-monitor reads and calls of ComposableCoW, as viem ABI items. The selectors and hashes are
// computed from them when the module is initialised, which componentize-qjs does at build time (a Wizer
// snapshot): no keccak runs per event. test/examples/twapAbi.test.ts checks them against the contract.
import { eventSelectors } from 'corral/guest/events';
import { type AbiParameter, keccak256, stringToHex, toFunctionSelector } from 'viem';

const PARAMS = { name: 'params', type: 'tuple', components: [
  { name: 'handler', type: 'address' },
  { name: 'salt', type: 'bytes32' },
  { name: 'staticInput', type: 'bytes' },
] } as const satisfies AbiParameter;

/** The order GPv2 settles (GPv2Order.Data). */
const ORDER = { name: 'order', type: 'tuple', components: [
  { name: 'sellToken', type: 'address' },
  { name: 'buyToken', type: 'address' },
  { name: 'receiver', type: 'address' },
  { name: 'sellAmount', type: 'uint256' },
  { name: 'buyAmount', type: 'uint256' },
  { name: 'validTo', type: 'uint32' },
  { name: 'appData', type: 'bytes32' },
  { name: 'feeAmount', type: 'uint256' },
  { name: 'kind', type: 'bytes32' },
  { name: 'partiallyFillable', type: 'bool' },
  { name: 'sellTokenBalance', type: 'bytes32' },
  { name: 'buyTokenBalance', type: 'bytes32' },
] } as const satisfies AbiParameter;

const reason = { name: 'reason', type: 'string' } as const;

export const COMPOSABLE_COW_ABI = [
  { type: 'event', name: 'ConditionalOrderCreated', inputs: [{ name: 'owner', type: 'address', indexed: true }, PARAMS] },
  { type: 'event', name: 'MerkleRootSet', inputs: [
    { name: 'owner', type: 'address', indexed: true },
    { name: 'root', type: 'bytes32' },
    { name: 'proof', type: 'tuple', components: [{ name: 'location', type: 'uint256' }, { name: 'data', type: 'bytes' }] },
  ] },
  { type: 'function', name: 'getTradeableOrderWithSignature', stateMutability: 'view',
    inputs: [{ name: 'owner', type: 'address' }, PARAMS, { name: 'offchainInput', type: 'bytes' }, { name: 'proof', type: 'bytes32[]' }],
    outputs: [ORDER, { name: 'signature', type: 'bytes' }] },
  { type: 'function', name: 'hash', stateMutability: 'pure', inputs: [PARAMS], outputs: [{ name: '', type: 'bytes32' }] },
  { type: 'function', name: 'cabinet', stateMutability: 'view', inputs: [{ name: 'owner', type: 'address' }, { name: 'ctx', type: 'bytes32' }], outputs: [{ name: '', type: 'bytes32' }] },
] as const;

/** ComposableCoW's and IConditionalOrder's custom errors: what a handler reverts with, and what a watcher reads. */
export const ERRORS_ABI = [
  { type: 'error', name: 'PollTryNextBlock', inputs: [reason] },
  { type: 'error', name: 'PollTryAtBlock', inputs: [{ name: 'blockNumber', type: 'uint256' }, reason] },
  { type: 'error', name: 'PollTryAtEpoch', inputs: [{ name: 'timestamp', type: 'uint256' }, reason] },
  { type: 'error', name: 'PollNever', inputs: [reason] },
  { type: 'error', name: 'OrderNotValid', inputs: [reason] },
  { type: 'error', name: 'ProofNotAuthed', inputs: [] },
  { type: 'error', name: 'SingleOrderNotAuthed', inputs: [] },
  { type: 'error', name: 'InterfaceNotSupported', inputs: [] },
  { type: 'error', name: 'InvalidHandler', inputs: [] },
  { type: 'error', name: 'InvalidFallbackHandler', inputs: [] },
  { type: 'error', name: 'SwapGuardRestricted', inputs: [] },
] as const;

/** TWAP.sol's static input (TWAPOrder.Data). */
export const TWAP_DATA = [{ type: 'tuple', components: [
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
] }] as const;

/** A MerkleRootSet's emitted proofs (Proof.location 1): abi.encode of every leaf's proof and params. */
export const EMITTED_PROOFS = [{ type: 'tuple[]', components: [{ name: 'proof', type: 'bytes32[]' }, PARAMS] }] as const;

export const PARAMS_TUPLE = [PARAMS] as const;

type Function = Extract<(typeof COMPOSABLE_COW_ABI)[number], { type: 'function' }>;
export type ErrorName = (typeof ERRORS_ABI)[number]['name'];
export const functionItem = <name extends Function['name']>(name: name) => COMPOSABLE_COW_ABI.find((item): item is Extract<Function, { name: name }> => item.type === 'function' && item.name === name)!;

export const GET_TRADEABLE_ORDER = toFunctionSelector(functionItem('getTradeableOrderWithSignature'));
export const HASH = toFunctionSelector(functionItem('hash'));
export const CABINET = toFunctionSelector(functionItem('cabinet'));
/** Error selector (0x and 4 bytes) → its ABI item. */
export const ERRORS: ReadonlyMap<string, (typeof ERRORS_ABI)[number]> = new Map(
  ERRORS_ABI.map((item) => [toFunctionSelector(`${item.name}(${item.inputs.map((input) => input.type).join(',')})`), item]),
);
/** GPv2Order's kind and balance markers: the keccak of their names. */
const marker = <name extends string>(names: readonly name[]): ReadonlyMap<string, name> => new Map(names.map((name) => [keccak256(stringToHex(name)), name]));
export const KINDS = marker(['sell', 'buy']);
export const BALANCES = marker(['erc20', 'external', 'internal']);

// The events' selectors too, for decodeLog: at initialisation, so at build time.
eventSelectors(COMPOSABLE_COW_ABI);
