import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildFixtures } from '../../fixtures/build.ts';
import { keccak256, toEventSelector, toFunctionSelector, toHex } from 'viem';
import { BALANCES, CABINET, COMPOSABLE_COW_ABI, ERRORS, GET_TRADEABLE_ORDER, HASH, KINDS } from '../../examples/twap-monitor/src/abi.ts';

// The module derives its selectors and hashes from its ABI items (examples/twap-monitor/src/abi.ts), the
// same code running here and inside QuickJS. This checks each against a signature written out by hand,
// so a wrong type in an ABI item cannot silently turn a hint into "never" or a kind into another.
const engineToml = readFileSync(fileURLToPath(new URL('../../examples/twap-monitor/engine.toml', import.meta.url)), 'utf8');
const table = (map: ReadonlyMap<string, string | { name: string }>): Record<string, string> =>
  Object.fromEntries([...map].map(([selector, value]) => [selector.slice(2), typeof value === 'string' ? value : value.name]));
const hash = (text: string) => keccak256(toHex(text)).slice(2);

describe('twap-monitor constants', () => {
  it('default: the getTradeableOrderWithSignature selector', () => {
    expect(GET_TRADEABLE_ORDER).toBe(toFunctionSelector('getTradeableOrderWithSignature(address,(address,bytes32,bytes),bytes,bytes32[])'));
  });

  it('default: the ComposableCoW reads for a TWAP with t0 = 0 (hash, cabinet)', () => {
    expect(HASH).toBe(toFunctionSelector('hash((address,bytes32,bytes))'));
    expect(CABINET).toBe(toFunctionSelector('cabinet(address,bytes32)'));
  });

  it('default: the event topics it dispatches on', () => {
    // decodeLog matches a log's first topic against the selectors of the ABI's events.
    const events = COMPOSABLE_COW_ABI.filter((item) => item.type === 'event');
    expect(Object.fromEntries(events.map((item) => [toEventSelector(item).slice(2), item.name]))).toEqual({
      [toEventSelector('ConditionalOrderCreated(address,(address,bytes32,bytes))').slice(2)]: 'ConditionalOrderCreated',
      [toEventSelector('MerkleRootSet(address,bytes32,(uint256,bytes))').slice(2)]: 'MerkleRootSet',
    });
  });

  it('default: every custom error selector names its error', () => {
    const signatures: Record<string, string> = {
      PollTryNextBlock: 'PollTryNextBlock(string)',
      PollTryAtBlock: 'PollTryAtBlock(uint256,string)',
      PollTryAtEpoch: 'PollTryAtEpoch(uint256,string)',
      PollNever: 'PollNever(string)',
      OrderNotValid: 'OrderNotValid(string)',
      ProofNotAuthed: 'ProofNotAuthed()',
      SingleOrderNotAuthed: 'SingleOrderNotAuthed()',
      InterfaceNotSupported: 'InterfaceNotSupported()',
      InvalidHandler: 'InvalidHandler()',
      InvalidFallbackHandler: 'InvalidFallbackHandler()',
      SwapGuardRestricted: 'SwapGuardRestricted()',
    };
    const errors = table(ERRORS);
    expect(Object.values(errors).sort()).toEqual(Object.keys(signatures).sort());
    for (const [selector, name] of Object.entries(errors)) expect(selector, name).toBe(toFunctionSelector(signatures[name]!).slice(2));
  });

  it('default: order kinds and token balances are the keccak of their names', () => {
    for (const [digest, name] of Object.entries({ ...table(KINDS), ...table(BALANCES) })) expect(digest, name).toBe(hash(name));
    expect(Object.values(table(KINDS)).sort()).toEqual(['buy', 'sell']);
    expect(Object.values(table(BALANCES)).sort()).toEqual(['erc20', 'external', 'internal']);
  });

  it('default: the trigger topics in engine.toml are ConditionalOrderCreated and MerkleRootSet', () => {
    expect(engineToml).toContain(toEventSelector('ConditionalOrderCreated(address,(address,bytes32,bytes))'));
    expect(engineToml).toContain(toEventSelector('MerkleRootSet(address,bytes32,(uint256,bytes))'));
  });

  it('default: the stand-in contract raises the errors and emits the events the module reads, with those signatures', async () => {
    await buildFixtures(['ComposableCoW']);
    const artifact = JSON.parse(readFileSync(fileURLToPath(new URL('../../examples/twap-monitor/build/ComposableCoW.json', import.meta.url)), 'utf8')) as {
      contracts: Record<string, { abi: { type: string; name: string; inputs: { type: string; components?: { type: string }[] }[] }[] }>;
    };
    const signature = (item: { name: string; inputs: { type: string; components?: { type: string }[] }[] }) =>
      `${item.name}(${item.inputs.map((i) => (i.type === 'tuple' ? `(${i.components!.map((c) => c.type).join(',')})` : i.type)).join(',')})`;
    const all = Object.values(artifact.contracts).flatMap((c) => c.abi);
    const errors = new Set(all.filter((i) => i.type === 'error').map(signature));
    for (const e of ['OrderNotValid(string)', 'SingleOrderNotAuthed()', 'ProofNotAuthed()', 'InterfaceNotSupported()', 'InvalidHandler()']) expect(errors, e).toContain(e);
    const events = new Set(all.filter((i) => i.type === 'event').map(signature));
    expect([...events].sort()).toEqual(['ConditionalOrderCreated(address,(address,bytes32,bytes))', 'MerkleRootSet(address,bytes32,(uint256,bytes))']);
  });
});
