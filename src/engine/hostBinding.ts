import type { HostBinding, HostInterface } from '../host/bindHost.ts';
import { RateLimiter } from '../jobs/RateLimiter.ts';
import type { HostImports } from '../runtime/HostImports.ts';
import type { ChainInterest } from '../bus/triggers.ts';
import type { EngineParts } from './EngineParts.ts';
import { MODULE_INTERFACES, UNGRANTED_INTERFACES } from './ModuleManifest.ts';
import { DEFAULT_MESSAGES } from '../limits/defaults.ts';
import type { ResolvedManifest } from '../config/ModuleManifestSchema.ts';

/**
 * What binding a module's host imports needs, resolved once at its load from its manifest and its
 * component's imports: the import specifiers by interface, its grants, and its queue's context.
 */
export function hostBinding(parts: EngineParts, manifest: ResolvedManifest, imports: Record<string, string[]>, version: string, interests: readonly ChainInterest[]): HostBinding {
  const specifiers: Partial<Record<HostInterface, string>> = {};
  const interfaces = Object.entries({ ...MODULE_INTERFACES, ...UNGRANTED_INTERFACES }) as [HostInterface, string][];
  for (const specifier of Object.keys(imports)) {
    const bare = specifier.replace(/@[^/]*$/, '');
    const name = interfaces.find(([, id]) => id === bare)?.[0];
    if (name) specifiers[name] = specifier;
  }
  const { grants, jobs, name } = manifest;
  const { clock } = parts;
  return {
    specifiers,
    chains: parts.bus.clients,
    chainGrants: grants.chain?.chains ?? [],
    pinLatest: manifest.pinLatest ?? true,
    httpHosts: grants.http?.hosts ?? [],
    orderbooks: parts.orderbooks,
    cowApiGrants: grants.cowApi?.chains ?? [],
    timerChains: interests.map((i) => i.chainId),
    queue: {
      granted: grants.queue === true,
      version,
      now: () => clock.now(),
      // Its enqueue rate limiter, shared by its events and jobs.
      rate: new RateLimiter(jobs.ratePerMinute, clock),
      rateLimited: () => parts.jobs.rateLimited(name),
      retry: jobs.retry,
      maxRetry: jobs.maxRetry,
    },
    messages: parts.messages.context(name, grants.messages ?? [], DEFAULT_MESSAGES.inbox),
    triggers: interests.flatMap((i) => i.added.map((a) => ({ name: a.name, chainId: i.chainId, id: a.id, static: a.static }))),
  };
}

/** Placeholders the runtime checks at load; every real call brings its own bound imports. */
export function outsideInvocation(imports: Record<string, string[]>): HostImports {
  const stubs: HostImports = {};
  for (const [specifier, functions] of Object.entries(imports)) {
    stubs[specifier] = Object.fromEntries(
      functions.map((fn) => [
        fn,
        () => {
          throw new Error(`${specifier}#${fn} called outside an invocation`);
        },
      ]),
    );
  }
  return stubs;
}
