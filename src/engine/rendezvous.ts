import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest random weight) hashing of modules over replicas: every replica computes the same
 * owner for a module from the same inputs, with no coordination, and adding or removing one of N
 * replicas moves only the modules it wins or held (about 1/N). Modules and replicas are named by their
 * numeric database ids, not by their names: a renamed host keeps its id for its session, and two
 * replicas with the same name (two processes on one machine) still rank apart.
 */

/** A replica as placement ranks it: its id and the module names it can run (its manifests). */
export interface Candidate {
  id: number;
  modules: ReadonlySet<string> | readonly string[];
}

/** The weight of `replicaId` for `moduleId`: the first 8 bytes of sha256("<module>/<replica>"), big-endian. */
export function score(moduleId: number, replicaId: number): bigint {
  return createHash('sha256').update(`${moduleId}/${replicaId}`).digest().readBigUInt64BE(0);
}

/** Replica ids by preference for `moduleId`, best first (ties, which sha256 makes unlikely, by lower id). */
export function ranking(moduleId: number, replicaIds: readonly number[]): number[] {
  const scored = replicaIds.map((id) => ({ id, s: score(moduleId, id) }));
  scored.sort((a, b) => (a.s === b.s ? a.id - b.id : a.s > b.s ? -1 : 1));
  return scored.map((x) => x.id);
}

function declares(candidate: Candidate, name: string): boolean {
  const m = candidate.modules;
  return m instanceof Set ? m.has(name) : (m as readonly string[]).includes(name);
}

/** The candidates that declared module `name`, ranked for its id, best first. */
export function rankedFor(module: { id: number; name: string }, candidates: readonly Candidate[]): number[] {
  return ranking(module.id, candidates.filter((c) => declares(c, module.name)).map((c) => c.id));
}

/**
 * The desired owner of each module: the best-ranked candidate that declared it; a module no candidate
 * declared is left out (no replica can run it).
 */
export function desiredOwners(modules: readonly { id: number; name: string }[], candidates: readonly Candidate[]): Map<string, number> {
  const owners = new Map<string, number>();
  for (const module of modules) {
    const [best] = rankedFor(module, candidates);
    if (best !== undefined) owners.set(module.name, best);
  }
  return owners;
}
