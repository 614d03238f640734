import type { ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import { EngineError } from '../errors/EngineError.ts';

/** The modules a manifest's `messages` triggers take messages from, with the inbox bound of each. */
export function messageSenders(manifest: ResolvedManifest): Map<string, number> {
  const senders = new Map<string, number>();
  for (const trigger of manifest.triggers) {
    if (trigger.kind !== 'messages') continue;
    for (const from of trigger.from) senders.set(from, Math.min(senders.get(from) ?? Infinity, trigger.inbox));
  }
  return senders;
}

/**
 * Refuses a `messages` grant that names a module not among `known` (every module the engine starts
 * with, or those running when one is loaded), or one whose manifest takes no messages from the
 * granted module: such a send could never be delivered. A receiver may name a sender not loaded (yet):
 * its outbox is read when it is there.
 */
export function checkMessageGrants(manifests: readonly ResolvedManifest[], known: readonly ResolvedManifest[]): void {
  const byName = new Map(known.map((m) => [m.name, m]));
  for (const manifest of manifests) {
    for (const to of manifest.grants.messages ?? []) {
      const receiver = byName.get(to);
      if (!receiver) throw new EngineError('invalid-grant', `module ${manifest.name} may send messages to ${to}, which is not a module here`, { module: manifest.name, to });
      if (!messageSenders(receiver).has(manifest.name)) {
        throw new EngineError('invalid-grant', `module ${manifest.name} may send messages to ${to}, whose manifest has no \`messages\` trigger naming ${manifest.name}`, { module: manifest.name, to });
      }
    }
  }
}
