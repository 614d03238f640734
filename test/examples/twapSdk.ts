/**
 * The public CoW Protocol SDK (`@cowprotocol/sdk-composable` with `@cowprotocol/sdk-viem-adapter`, dev
 * dependencies), the tests' independent TWAP client: its encoding and its own TWAP validation are what the
 * module's schedule is compared with, so the module and the test do not share one reading of the rules.
 */
export async function loadSdk() {
  const composable = (await import('@cowprotocol/sdk-composable')) as unknown as SdkComposable;
  const adapter = (await import('@cowprotocol/sdk-viem-adapter')) as unknown as { ViemAdapter: new (options: { provider: unknown }) => unknown };
  return { composable, ViemAdapter: adapter.ViemAdapter };
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
