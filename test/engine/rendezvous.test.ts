import { describe, expect, test } from 'vitest';
import { desiredOwners, ranking, score } from '../../src/engine/rendezvous.ts';

const modules = Array.from({ length: 600 }, (_, i) => ({ id: i + 1, name: `m${i + 1}` }));
const names = modules.map((m) => m.name);
const replicas = (ids: number[]) => ids.map((id) => ({ id, modules: names }));
const moved = (a: Map<string, number>, b: Map<string, number>) => names.filter((n) => a.get(n) !== b.get(n)).length;

describe('rendezvous', () => {
  test('default: every module has exactly one owner among the candidates, and all candidates get some', () => {
    const owners = desiredOwners(modules, replicas([3, 7, 11]));
    expect(owners.size).toBe(modules.length);
    const counts = new Map<number, number>();
    for (const owner of owners.values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([3, 7, 11]);
    for (const n of counts.values()) expect(n).toBeGreaterThan(600 / 3 * 0.75);
  });

  test('behavior: the same inputs give the same owners, whatever the order of the candidates', () => {
    expect(desiredOwners(modules, replicas([3, 7, 11]))).toEqual(desiredOwners([...modules].reverse(), replicas([11, 3, 7])));
    expect(ranking(42, [1, 2, 3])).toEqual(ranking(42, [3, 1, 2]));
  });

  test('behavior: adding a fourth replica moves about a quarter of the modules, all to it', () => {
    const before = desiredOwners(modules, replicas([3, 7, 11]));
    const after = desiredOwners(modules, replicas([3, 7, 11, 20]));
    const n = moved(before, after);
    expect(n).toBeGreaterThan(600 / 4 * 0.7);
    expect(n).toBeLessThan(600 / 4 * 1.3);
    for (const name of names) if (before.get(name) !== after.get(name)) expect(after.get(name)).toBe(20);
  });

  test('behavior: removing one of three replicas moves only its modules', () => {
    const before = desiredOwners(modules, replicas([3, 7, 11]));
    const after = desiredOwners(modules, replicas([3, 11]));
    for (const name of names) if (before.get(name) !== 7) expect(after.get(name)).toBe(before.get(name));
    const n = moved(before, after);
    expect(n).toBeGreaterThan(600 / 3 * 0.7);
    expect(n).toBeLessThan(600 / 3 * 1.3);
  });

  test('args: a module goes only to a candidate that declared it; one nobody declared has no owner', () => {
    const owners = desiredOwners(modules.slice(0, 20), [{ id: 1, modules: ['m1', 'm2'] }, { id: 2, modules: new Set(['m2', 'm3']) }]);
    expect(owners.get('m1')).toBe(1);
    expect(owners.get('m3')).toBe(2);
    expect([1, 2]).toContain(owners.get('m2'));
    expect(owners.has('m4')).toBe(false);
  });

  test('default: the score is a 64-bit value of the ids, not of names', () => {
    expect(score(1, 2)).toBe(score(1, 2));
    expect(score(1, 2)).not.toBe(score(2, 1));
    expect(score(1, 2) < 2n ** 64n).toBe(true);
  });
});
