import { isDeepStrictEqual } from 'node:util';
import { HostFault } from '../errors/HostFault.ts';
import type { HostInterface } from '../host/bindHost.ts';
import type { InvocationScope } from '../host/InvocationScope.ts';
import type { HostLimitName } from '../limits/hostCaps.ts';
import { Recorder } from '../replay/Recorder.ts';
import type { RecordedHostCall } from '../replay/Recording.ts';
import type { BoundHostFunction, HostImports } from '../runtime/HostImports.ts';

/** Interfaces whose calls leave the engine: a candidate's are never sent, but answered from the live step's. */
export const SENT: readonly HostInterface[] = ['chain', 'http', 'cowApi'];
/** Interfaces whose calls stage corral's own records (timers, tasks, outbox messages): a candidate's go to its overlay, and are compared. */
export const STAGED: readonly HostInterface[] = ['timers', 'queue', 'messages'];

/** The recorder's wrapping, the journal `corral replay` reads: one journal of calls and answers, not a second. */
const journal = new Recorder();

/**
 * `imports` with the functions of `interfaces` (by their specifiers) journaled into `calls` in the
 * order the guest makes them, each with its answer (a value, a fault, a tripped cap or an error).
 */
export function journaled(imports: HostImports, specifiers: readonly string[], calls: RecordedHostCall[]): HostImports {
  const out: HostImports = { ...imports };
  for (const specifier of specifiers) {
    const functions = imports[specifier];
    if (!functions) continue;
    const table: BoundHostFunction[] = Object.entries(functions).map(([name, fn]) => ({ label: `${specifier}#${name}`, fn }));
    out[specifier] = Object.fromEntries(journal.recordingTable(table, calls).map(({ label, fn }) => [label.slice(specifier.length + 1), fn]));
  }
  return out;
}

/** Why a candidate's call got no answer: it was not the live step's call at that place. */
export const NOT_SENT = { tag: 'upstream', val: 'shadow run: this request differs from the live step\'s and was not sent' } as const;

/**
 * The sent interfaces of a candidate's invocation: its `n`-th outbound call (counted in `calls`, the
 * journal of the candidate's sent and staged calls) is answered as the live step's `n`-th was when
 * both name the same function with equal arguments — the answer replayed, a fault, a tripped cap
 * (through the candidate's scope, so its invocation ends the same way) or an error — and otherwise
 * with an `upstream` fault. Nothing is sent either way.
 */
export function answeredFromLive(imports: HostImports, specifiers: readonly string[], live: readonly RecordedHostCall[], calls: readonly RecordedHostCall[], scope: InvocationScope): HostImports {
  const out: HostImports = { ...imports };
  for (const specifier of specifiers) {
    const functions = imports[specifier];
    if (!functions) continue;
    out[specifier] = Object.fromEntries(
      Object.keys(functions).map((name) => [
        name,
        (...args: unknown[]) => {
          // The journal appended this call before calling here: it is the last one.
          const recorded = live[calls.length - 1];
          if (!recorded || recorded.fn !== `${specifier}#${name}` || !isDeepStrictEqual(recorded.args, args)) throw new HostFault(NOT_SENT);
          if (recorded.limit) scope.check(recorded.limit.limit as HostLimitName, recorded.limit.observed);
          if ('fault' in recorded) throw new HostFault(recorded.fault);
          if (recorded.error) throw Object.assign(new Error(recorded.error.message), { name: recorded.error.name });
          return recorded.result;
        },
      ]),
    );
  }
  return out;
}
