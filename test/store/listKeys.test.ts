import { afterAll, describe, expect, it } from 'vitest';
import { InvocationScope } from '../../src/host/InvocationScope.ts';
import { storeHost } from '../../src/host/store.ts';
import { RESERVED_PREFIX } from '../../src/store/reservedKeys.ts';
import { DEFAULT_HOST_CAPS } from '../../src/limits/hostCaps.ts';
import type { Bytes, ModuleStore } from '../../src/store/EngineStore.ts';
import { StateTransaction } from '../../src/store/StateTransaction.ts';
import { captureLogger } from '../helpers.ts';
import { backends, type Backend, type OpenedBackend } from './backends.ts';

const RESERVED_KEYS = 50_000;
const enc = (s: string) => new TextEncoder().encode(s);
const reserved = (i: number) => Uint8Array.from([...RESERVED_PREFIX, ...enc(`timer/t${i}`)]);
/** Each backend's crowded store, filled once for the file: the tests only read it (the 50,000 keys take seconds to commit). */
const filled = new Map<Backend, Promise<OpenedBackend>>();
afterAll(async () => {
  for (const opened of filled.values()) await (await opened).close();
});

async function fill(backend: Backend): Promise<OpenedBackend> {
  const opened = await backend.open();
  const state = await opened.store.module('m');
  const own = [Uint8Array.of(0xfe, 0x01), Uint8Array.of(0xff), Uint8Array.of(0xff, 0x00, 0x01), Uint8Array.of(0xff, 0x01), Uint8Array.of(0xff, 0x02)];
  const writes = [...own, ...Array.from({ length: RESERVED_KEYS }, (_, i) => reserved(i))].map((key) => ({ key, value: enc('v') }));
  await state.commit({ writes, sizeDelta: 0 });
  return opened;
}

/**
 * Module `m` on a backend: 50,000 keys in corral's reserved range (its timers and tasks live there)
 * between the module's own keys, and a reader that counts the keys the store hands out.
 */
async function crowded(backend: Backend): Promise<{ state: ModuleStore; visited: () => number }> {
  if (!filled.has(backend)) filled.set(backend, fill(backend));
  const state = await (await filled.get(backend)!).store.module('m');
  let visited = 0;
  const counting: ModuleStore = Object.create(state, {
    keys: {
      value: (range: Parameters<ModuleStore['keys']>[0]) =>
        (async function* () {
          for await (const key of state.keys(range)) {
            visited++;
            yield key;
          }
        })(),
    },
  });
  return { state: counting, visited: () => visited };
}

function listKeys(state: ModuleStore, prefix: Bytes, cursor: Bytes | undefined, limit: number): Promise<Bytes[]> {
  const tx = new StateTransaction(state);
  const scope = new InvocationScope('m', state, tx, { ...DEFAULT_HOST_CAPS }, captureLogger().logger);
  return storeHost(scope).listKeys(prefix, cursor, limit) as Promise<Bytes[]>;
}

const hex = (keys: Bytes[]) => keys.map((k) => Buffer.from(k).toString('hex'));

describe.each(backends)('list-keys over corral\'s reserved keys ($name)', (backend) => {
  it('behavior: a listing across 50,000 reserved keys seeks past them: it reads no more keys than it returns', async () => {
    const { state, visited } = await crowded(backend);
    expect(hex(await listKeys(state, Uint8Array.of(0xff), undefined, 3))).toEqual(['ff', 'ff0001', 'ff01']);
    expect(visited()).toBeLessThanOrEqual(3);
  });

  it('behavior: a page starting in front of the reserved range and one resuming past it hold the right keys', async () => {
    const { state, visited } = await crowded(backend);
    expect(hex(await listKeys(state, new Uint8Array(), undefined, 10))).toEqual(['fe01', 'ff', 'ff0001', 'ff01', 'ff02']);
    expect(hex(await listKeys(state, new Uint8Array(), Uint8Array.of(0xff, 0x00, 0x01), 1))).toEqual(['ff01']);
    expect(visited()).toBeLessThanOrEqual(10 + 1);
  });

  it('behavior: staged writes show and staged deletions hide, on both sides of the reserved range', async () => {
    const { state } = await crowded(backend);
    const tx = new StateTransaction(state);
    tx.set(Uint8Array.of(0xff, 0x03), enc('new'));
    tx.delete(Uint8Array.of(0xff));
    const scope = new InvocationScope('m', state, tx, { ...DEFAULT_HOST_CAPS }, captureLogger().logger);
    expect(hex((await storeHost(scope).listKeys(Uint8Array.of(0xff), undefined, 10)) as Bytes[])).toEqual(['ff0001', 'ff01', 'ff02', 'ff03']);
  });
});
