import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The public CoW Protocol SDK (`@cowprotocol/sdk-composable` 0.1.31 with `@cowprotocol/sdk-viem-adapter`
 * 0.3.17), the tests' independent TWAP client: from the project's dependencies when they are there,
 * else from `.sdk-scratch/` (an `npm install` of the two, not committed). Undefined when neither is.
 */
export async function loadSdk() {
  const scratch = (name: string) => fileURLToPath(new URL(`../../.sdk-scratch/node_modules/@cowprotocol/${name}/dist/index.mjs`, import.meta.url));
  const from = async (name: string) => {
    try {
      return (await import(`@cowprotocol/${name}`)) as Record<string, unknown>;
    } catch {
      return existsSync(scratch(name)) ? ((await import(scratch(name))) as Record<string, unknown>) : undefined;
    }
  };
  const composable = await from('sdk-composable');
  const adapter = await from('sdk-viem-adapter');
  if (!composable || !adapter) return undefined;
  return { composable: composable as unknown as SdkComposable, ViemAdapter: adapter.ViemAdapter as new (options: { provider: unknown }) => unknown };
}

/** The parts of the SDK the tests use (its own types are not a dependency of this project). */
export interface SdkComposable {
  TWAP_ADDRESS: string;
  Twap: new (params: { handler: string; salt: string; data: unknown }, adapter?: unknown) => SdkTwap;
  transformStructToData(struct: Record<string, unknown>): unknown;
}

export interface SdkTwap {
  id: string;
  serialize(): string;
  isValid(): { isValid: true } | { isValid: false; reason: string };
  pollValidate(params: { owner: string; chainId: number; provider: unknown; blockInfo: { blockNumber: number; blockTimestamp: number } }): Promise<
    { result: 'TRY_AT_EPOCH'; epoch: number; reason: string } | { result: 'DONT_TRY_AGAIN'; reason: string } | { result: 'UNEXPECTED_ERROR'; reason: string } | undefined
  >;
  handlePollFailedAlreadyPresent(
    uid: string,
    order: unknown,
    params: { owner: string; chainId: number; provider: unknown; blockInfo: { blockNumber: number; blockTimestamp: number } },
  ): Promise<{ result: string; epoch?: number; reason?: string } | undefined>;
}
