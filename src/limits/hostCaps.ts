/**
 * Per-invocation caps on what a module asks of its host, and the per-module storage cap. When one
 * trips, the host function throws, the invocation ends as a trap would, its state writes are dropped,
 * and the supervisor receives `HostLimitExceeded { limit, max, observed }`. Each is configurable per
 * module (`caps` in its manifest).
 */
export interface HostCaps {
  /** chain.request calls per invocation. */
  chainRequests: number;
  /** Bytes of one RPC response. */
  rpcResponseBytes: number;
  /** http.fetch and cow-api calls per invocation. */
  httpFetches: number;
  /** Bytes of one HTTP response body. */
  httpResponseBytes: number;
  /** Bytes of one HTTP request body. */
  httpRequestBytes: number;
  /** Milliseconds one HTTP request may take in all, from sending it to the last byte of the answer (an `upstream` fault after that); the invocation's deadline ends it too. */
  httpTimeoutMs: number;
  /** store get/set/delete/list-keys calls per invocation. */
  storeOps: number;
  /** Key + value bytes written by store.set in one invocation. */
  storeBytesWritten: number;
  /** logging.log records per invocation. */
  logRecords: number;
  /** Message + fields bytes logged in one invocation. */
  logBytes: number;
  /** Total key + value bytes a module may keep in its store (checked at commit). */
  storedBytes: number;
  /** messages.send calls per invocation. */
  messagesSent: number;
  /** Payload + correlation id bytes of the messages one invocation sends. */
  messageBytes: number;
}

export type HostLimitName = keyof HostCaps;

export const DEFAULT_HOST_CAPS: Readonly<HostCaps> = {
  chainRequests: 32,
  rpcResponseBytes: 1024 * 1024,
  httpFetches: 8,
  httpResponseBytes: 4 * 1024 * 1024,
  httpRequestBytes: 1024 * 1024,
  httpTimeoutMs: 10_000,
  storeOps: 256,
  storeBytesWritten: 1024 * 1024,
  logRecords: 100,
  logBytes: 64 * 1024,
  storedBytes: 50 * 1024 * 1024,
  messagesSent: 64,
  messageBytes: 256 * 1024,
};
