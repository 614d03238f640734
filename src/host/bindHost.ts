import type { ChainRpc } from '../chain/ChainRpc.ts';
import type { Job } from '../jobs/Job.ts';
import type { HostImports } from '../runtime/HostImports.ts';
import { chainHost } from './chain.ts';
import { cowApiHost } from './cowApi.ts';
import { httpHost } from './http.ts';
import { invocationHost } from './invocation.ts';
import type { InvocationScope } from './InvocationScope.ts';
import { loggingHost } from './logging.ts';
import { messagesHost, type MessagesContext } from './messages.ts';
import { queueHost, type QueueContext } from './queue.ts';
import { storeHost } from './store.ts';
import { timersHost } from './timers.ts';
import { triggersHost, type NamedTrigger } from './triggers.ts';
import { traceHost } from '../tracing/Tracing.ts';

/** The interfaces of corral's world a host binds, by the name a manifest grants them under (`invocation` needs no grant). */
export type HostInterface = 'store' | 'logging' | 'chain' | 'http' | 'cowApi' | 'timers' | 'queue' | 'invocation' | 'messages' | 'triggers';

/** What binding a module's host imports needs: resolved once, when the module is loaded. */
export interface HostBinding {
  /** The component's import specifiers (with their versions), by the interface they name. */
  specifiers: Partial<Record<HostInterface, string>>;
  /** Chain clients by id, and the chains `chain.request` may call. */
  chains: ReadonlyMap<bigint, ChainRpc>;
  chainGrants: readonly number[];
  /** Module requests at `latest` in a chain step are pinned to the step's block (manifest `pin_latest`, default true). */
  pinLatest?: boolean;
  /** Hosts `http` may reach. */
  httpHosts: readonly string[];
  /** Each chain's CoW Protocol order book base URL, and the chains `cow-api` may post to. */
  orderbooks: ReadonlyMap<bigint, string>;
  cowApiGrants: readonly number[];
  /** Chains the module's triggers follow: the only ones a block timer may name. */
  timerChains: readonly bigint[];
  /** The queue's context but for what enqueues (each invocation's own). */
  queue: Omit<QueueContext, 'enqueuedBy'>;
  /** The modules it may message, and their inboxes (src/engine/MessageHub.ts). */
  messages?: MessagesContext;
  /** Its named log triggers, whose addresses `triggers` adds and removes. */
  triggers?: readonly NamedTrigger[];
}

/**
 * The host imports of one invocation (an event's or a job's), bound to its scope: one host object per
 * interface the component imports, under the specifier it imports it by. `enqueuedBy` is what tasks
 * it enqueues are stored as enqueued by.
 */
export function bindHost(binding: HostBinding, scope: InvocationScope, enqueuedBy: Job['enqueuedBy']): HostImports {
  const imports: HostImports = {};
  const { store, logging, chain, http, cowApi, timers, queue, invocation, messages } = binding.specifiers;
  if (store) imports[store] = storeHost(scope);
  if (logging) imports[logging] = loggingHost(scope);
  if (chain) imports[chain] = chainHost(scope, binding.chains, binding.chainGrants, binding.pinLatest ?? true);
  if (http) imports[http] = httpHost(scope, binding.httpHosts);
  if (cowApi) imports[cowApi] = cowApiHost(scope, binding.orderbooks, binding.cowApiGrants);
  if (timers) imports[timers] = timersHost(scope, binding.timerChains);
  if (queue) imports[queue] = queueHost(scope, { ...binding.queue, enqueuedBy });
  if (invocation) imports[invocation] = invocationHost(scope);
  if (messages && binding.messages) imports[messages] = messagesHost(scope, binding.messages);
  if (binding.specifiers.triggers) imports[binding.specifiers.triggers] = triggersHost(scope, binding.triggers ?? []);
  // Traced only when the engine traces host calls: otherwise the guest calls the functions above directly.
  const trace = scope.trace;
  if (trace?.tracing.hostCalls) {
    for (const [name, specifier] of Object.entries(binding.specifiers) as [HostInterface, string][]) {
      if (imports[specifier]) imports[specifier] = traceHost(trace, name, imports[specifier]);
    }
  }
  return imports;
}
