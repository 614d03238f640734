// Generated from wit/module.wit by `npm run wit:types`. Do not edit.
/** @module Interface corral:module/types@0.1.0 **/
export interface BlockHeader {
  chainId: bigint,
  number: bigint,
  hash: string,
  parentHash: string,
  timestamp: bigint,
}
export interface ChainLog {
  chainId: bigint,
  address: string,
  topics: Array<string>,
  data: string,
  blockNumber: bigint,
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
  scheduledAt: bigint,
  name: string,
}
export interface ModuleMessage {
  seq: bigint,
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
