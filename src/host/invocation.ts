import type * as Invocation from './generated/corral-module-invocation.js';
import type { HostImplementation } from './HostImplementation.ts';
import type { InvocationScope } from './InvocationScope.ts';

/**
 * `corral:module/invocation`: the idempotency key of the step or job the scope belongs to (made by
 * src/engine/idempotencyKey.ts; the WIT says what it guarantees). Granted to every module: it reads
 * nothing outside the invocation and costs no cap. A scope without a key (a host bound outside the
 * engine's invocation step) traps rather than answer a key that would not identify the step: a wrong
 * key can make a target drop an effect that is not a repeat.
 */
export function invocationHost(scope: InvocationScope): HostImplementation<typeof Invocation> {
  return {
    idempotencyKey(): string {
      if (scope.idempotencyKey === undefined) throw new Error(`corral:module/invocation#idempotency-key: the invocation of ${scope.module} has no idempotency key`);
      return scope.idempotencyKey;
    },
  };
}
