import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { GuardedModuleStore } from '../../src/store/GuardedModuleStore.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));

/**
 * A failed LevelDB batch. LevelDB cannot be made to fail a write on demand here (as root, a read-only
 * directory does not stop it), so the one batch is failed by replacing `db.batch` once: the injected
 * fault is the only stand-in, the store and LevelDB around it are real.
 */
it('error: after a failed batch the store says so once through onError, and every later commit of any module is refused; what was committed before stays', async () => {
  const errors: Error[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'corral-groupcommit-'));
  const level = await LevelStore.open(dir, (error) => errors.push(error));
  const a = new GuardedModuleStore(await level.module('a'));
  const b = new GuardedModuleStore(await level.module('b'));
  await a.commit({ writes: [{ key: enc('before'), value: enc('1') }], sizeDelta: 7 });
  const db = (level as unknown as { db: { batch: (ops: unknown) => Promise<void> } }).db;
  const batch = db.batch.bind(db);
  let failNext = true;
  db.batch = (ops) => (failNext ? ((failNext = false), Promise.reject(new Error('injected IO error'))) : batch(ops));
  await expect(a.commit({ writes: [{ key: enc('k'), value: enc('lost') }], sizeDelta: 5 })).rejects.toThrow('injected IO error');
  expect(dec(a.getSync(enc('k')))).toBeUndefined(); // the failed commit's value is not served
  for (let i = 0; i < 3; i++) await expect(b.commit({ writes: [{ key: enc(`x${i}`), value: enc('1') }], sizeDelta: 3 })).rejects.toThrow('injected IO error');
  expect(errors).toHaveLength(1);
  expect(errors[0]!.message).toMatch(/LevelDB refused a batch \(injected IO error\): every later commit is refused until the engine is restarted/);
  await level.close();
  const reopened = await LevelStore.open(dir);
  const again = await reopened.module('a');
  expect([dec(again.getSync(enc('before'))), dec(again.getSync(enc('k')))]).toEqual(['1', undefined]);
  await reopened.close();
});
