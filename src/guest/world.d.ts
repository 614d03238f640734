// Generated from wit/module.wit by `npx tsx wit/generateGuestTypes.ts`. Do not edit.
declare module 'corral:module/chain@0.1.0' {
  export function request(chainId: number, method: string, paramsJson: string): string;
  export type Fault = import('corral:module/types@0.1.0').Fault;
}

declare module 'corral:module/cow-api@0.1.0' {
  export function request(chainId: number, method: string, path: string, body: string): Response;
  export function submitOrder(chainId: number, orderJson: string): string;
  export interface Response {
    status: number,
    body: string,
  }
  export type Fault = import('corral:module/types@0.1.0').Fault;
}

declare module 'corral:module/http@0.1.0' {
  export function fetch(method: string, url: string, headers: Array<[string, string]>, body: Uint8Array): Response;
  export interface Response {
    status: number,
    headers: Array<[string, string]>,
    body: Uint8Array,
  }
  export type Fault = import('corral:module/types@0.1.0').Fault;
}

declare module 'corral:module/invocation@0.1.0' {
  export function idempotencyKey(): string;
}

declare module 'corral:module/logging@0.1.0' {
  export function log(level: Level, message: string, fieldsJson: string): void;
  /**
   * # Variants
   * 
   * ## `"trace"`
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

declare module 'corral:module/messages@0.1.0' {
  export function send(to: string, payload: string, correlationId: string | undefined): number;
  export type Fault = import('corral:module/types@0.1.0').Fault;
}

declare module 'corral:module/queue@0.1.0' {
  export function enqueue(taskType: string, payload: string, opts: EnqueueOptions): string;
  export interface EnqueueOptions {
    delayMs: number,
    uniqueForMs: number,
    maxRetry?: number,
    idempotencyKey?: string,
  }
  export type Fault = import('corral:module/types@0.1.0').Fault;
}

declare module 'corral:module/store@0.1.0' {
  export function get(key: Uint8Array): Uint8Array | null;
  export function set(key: Uint8Array, value: Uint8Array): void;
  export { _delete as delete };
  function _delete(key: Uint8Array): void;
  export function listKeys(prefix: Uint8Array, cursor: Uint8Array | undefined, limit: number): Array<Uint8Array>;
  export type Fault = import('corral:module/types@0.1.0').Fault;
}

declare module 'corral:module/timers@0.1.0' {
  export function wakeAtBlock(chainId: number, number: number, tag: string): void;
  export function wakeAtTime(unixMs: number, tag: string): void;
  export function cancel(tag: string): void;
  export type Fault = import('corral:module/types@0.1.0').Fault;
}

declare module 'corral:module/triggers@0.1.0' {
  export function addAddress(trigger: string, address: string): void;
  export function removeAddress(trigger: string, address: string): void;
  export type Fault = import('corral:module/types@0.1.0').Fault;
}

declare module 'corral:module/types@0.1.0' {
  export interface BlockHeader {
    chainId: number,
    number: number,
    hash: string,
    parentHash: string,
    timestamp: number,
  }
  export interface ChainLog {
    chainId: number,
    address: string,
    topics: Array<string>,
    data: string,
    blockNumber: number,
    blockHash: string,
    transactionHash: string,
    logIndex: number,
    removed: boolean,
  }
  export interface Custom {
    topic: string,
    payload: string,
  }
  export interface ScheduleTick {
    scheduledAt: number,
    name: string,
  }
  export interface ModuleMessage {
    seq: number,
    from: string,
    payload: string,
    correlationId?: string,
    removed: boolean,
  }
  export type Event = EventBlock | EventLog | EventCustom | EventTimer | EventSchedule | EventMessage;
  export interface EventBlock {
    tag: 'block',
    val: BlockHeader,
  }
  export interface EventLog {
    tag: 'log',
    val: ChainLog,
  }
  export interface EventCustom {
    tag: 'custom',
    val: Custom,
  }
  export interface EventTimer {
    tag: 'timer',
    val: string,
  }
  export interface EventSchedule {
    tag: 'schedule',
    val: ScheduleTick,
  }
  export interface EventMessage {
    tag: 'message',
    val: ModuleMessage,
  }
  export type Fault = FaultDenied | FaultLimit | FaultNotFound | FaultInvalidInput | FaultUpstream | FaultInternal;
  export interface FaultDenied {
    tag: 'denied',
    val: string,
  }
  export interface FaultLimit {
    tag: 'limit',
    val: string,
  }
  export interface FaultNotFound {
    tag: 'not-found',
    val: string,
  }
  export interface FaultInvalidInput {
    tag: 'invalid-input',
    val: string,
  }
  export interface FaultUpstream {
    tag: 'upstream',
    val: string,
  }
  export interface FaultInternal {
    tag: 'internal',
    val: string,
  }
}
