/// <reference path="./world.d.ts" />
/**
 * corral's guest helpers: what a module written in TypeScript imports (bundled with esbuild, then
 * compiled by componentize-qjs). This entry imports none of the world's interfaces, so a module whose
 * world lacks one can still use it; the typed wrappers of each interface are `corral/guest/store`,
 * `corral/guest/logging`, `corral/guest/chain` and `corral/guest/cow-api`, and `corral/guest/events`
 * decodes logs with viem. Nothing here imports the rest of corral: it runs inside the component.
 */
export type { BlockHeader, ChainLog, Custom, Event, ScheduleTick } from 'corral:module/types@0.1.0';
export { Fault, type FaultTag, unwrap } from './fault.ts';
export { text, utf8 } from './utf8.ts';
