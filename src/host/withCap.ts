import type { CallOutcome } from '../runtime/Component.ts';
import { HostLimitExceeded } from '../signals/HostLimitExceeded.ts';
import { signalFromData, strongestSignal } from '../signals/signalFromData.ts';
import type { InvocationScope } from './InvocationScope.ts';

/**
 * A call's outcome with the host caps of its scope applied: a cap that tripped during the call is a
 * `HostLimitExceeded` signal of the invocation, even if the guest caught the host's exception and
 * carried on; the stronger of it and the call's own signal ends it.
 */
export function withCap(scope: InvocationScope, exportName: string, invocationId: string, outcome: CallOutcome): CallOutcome {
  const tripped = scope.limitError;
  if (!tripped) return outcome;
  const { limit, max, observed } = tripped;
  const capped = new HostLimitExceeded({ component: scope.module, exportName, invocationId, limit, max, observed });
  const signal = outcome.ok ? capped : signalFromData(strongestSignal([outcome.signal.toData(), capped.toData()]));
  return { ok: false, signal, durationMs: outcome.durationMs, invocationId: outcome.ok ? invocationId : outcome.invocationId };
}
