import { describe, expect, test } from 'vitest';
import { planRound, type PlacementView } from '../../src/engine/Placement.ts';
import { rankedFor } from '../../src/engine/rendezvous.ts';
import type { ModuleOwnership, ReplicaInfo } from '../../src/store/OwnedStore.ts';

const timing = { reconcileMs: 1_000, joinDelayMs: 10_000, minHoldMs: 30_000, maxMovesPerRound: 2 };
const names = Array.from({ length: 30 }, (_, i) => `m${i}`);
const modules = (owner?: (name: string) => number | undefined): ModuleOwnership[] =>
  names.map((name, i) => {
    const o = owner?.(name);
    return { name, id: i + 1, epoch: 1n, storedBytes: 0, ...(o === undefined ? {} : { owner: { id: o, name: `r${o}` } }) };
  });
const replica = (id: number, registeredMs: number): ReplicaInfo => ({ id, name: `r${id}`, registeredMs, modules: names });
const view = (v: Partial<PlacementView> & Pick<PlacementView, 'me' | 'replicas' | 'modules'>): PlacementView => ({ now: 100_000, declared: new Set(names), held: new Map(), orphanSince: new Map(), ...v });
const top = (name: string, ids: number[]) => rankedFor({ id: names.indexOf(name) + 1, name }, ids.map((id) => ({ id, modules: names })))[0];

describe('planRound', () => {
  test('default: a lone replica, just registered, acquires every module at once (no join delay without another candidate)', () => {
    const plan = planRound(view({ me: 1, replicas: [replica(1, 5)], modules: modules() }), timing);
    expect(plan.acquire).toEqual(names);
    expect(plan.handover).toEqual([]);
    expect(plan.candidates).toEqual([1]);
  });

  test('behavior: a replica missing from the live list (just reconnected) still counts itself', () => {
    expect(planRound(view({ me: 9, replicas: [], modules: modules() }), timing).acquire).toEqual(names);
  });

  test('behavior: a joining replica is no candidate before the join delay: it acquires nothing, the old one hands nothing over', () => {
    const all = modules(() => 1);
    const joining = planRound(view({ me: 2, replicas: [replica(1, 60_000), replica(2, 9_999)], modules: modules() }), timing);
    expect(joining.acquire).toEqual([]);
    expect(joining.candidates).toEqual([1]);
    const held = new Map(names.map((n) => [n, 0]));
    expect(planRound(view({ me: 1, replicas: [replica(1, 60_000), replica(2, 9_999)], modules: all, held }), timing).handover).toEqual([]);
  });

  test('behavior: after the join delay the old owner hands over the modules the new one ranks first, at most maxMovesPerRound a round, longest held first', () => {
    const held = new Map(names.map((n, i) => [n, i]));
    const plan = planRound(view({ me: 1, replicas: [replica(1, 60_000), replica(2, 10_000)], modules: modules(() => 1), held }), timing);
    const theirs = names.filter((n) => top(n, [1, 2]) === 2);
    expect(theirs.length).toBeGreaterThan(5);
    expect(plan.handover).toEqual(theirs.slice(0, 2));
    expect(planRound(view({ me: 1, replicas: [replica(1, 60_000), replica(2, 10_000)], modules: modules(() => 1), held }), { ...timing, maxMovesPerRound: 100 }).handover).toEqual(theirs);
  });

  test('behavior: a module held less than minHoldMs stays (hysteresis)', () => {
    const theirs = names.filter((n) => top(n, [1, 2]) === 2);
    const held = new Map(names.map((n) => [n, 100_000 - 29_999]));
    expect(planRound(view({ me: 1, replicas: [replica(1, 60_000), replica(2, 60_000)], modules: modules(() => 1), held }), timing).handover).toEqual([]);
    held.set(theirs[0]!, 100_000 - 30_000);
    expect(planRound(view({ me: 1, replicas: [replica(1, 60_000), replica(2, 60_000)], modules: modules(() => 1), held }), timing).handover).toEqual([theirs[0]]);
  });

  test('behavior: a module owned elsewhere is never acquired; a free one goes to its best candidate at once, to the second after one reconcile period', () => {
    const replicas = [replica(1, 60_000), replica(2, 60_000)];
    const mine = names.filter((n) => top(n, [1, 2]) === 1);
    const first = planRound(view({ me: 1, replicas, modules: modules((n) => (n === 'm0' ? 2 : undefined)) }), timing);
    expect(first.acquire).toEqual(mine.filter((n) => n !== 'm0'));
    expect(first.orphanSince.has('m0')).toBe(false);
    const second = planRound(view({ me: 1, replicas, modules: modules(), orphanSince: first.orphanSince, now: 100_999 }), timing);
    expect(second.acquire).toEqual(mine);
    const third = planRound(view({ me: 1, replicas, modules: modules(), orphanSince: first.orphanSince, now: 101_000 }), timing);
    // m0 was owned in the first round: its free time starts now, so only its best candidate takes it yet.
    expect(third.acquire).toEqual(names.filter((n) => n !== 'm0' || mine.includes(n)));
  });

  test('args: modules skipped (a failed load) or not declared here are not acquired', () => {
    const plan = planRound(view({ me: 1, replicas: [replica(1, 0)], modules: modules(), declared: new Set(['m1', 'm2', 'm3']), skip: new Set(['m2']) }), timing);
    expect(plan.acquire).toEqual(['m1', 'm3']);
  });
});
