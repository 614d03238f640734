// Generated from wit/module.wit by `npm run wit:types`. Do not edit.
/** @module Interface corral:module/invocation@0.1.0 **/
export function idempotencyKey(): string;
