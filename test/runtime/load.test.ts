import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@bytecodealliance/jco';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadError, type Component, type Runtime } from '../../src/index.ts';
import { instrumentCoreModule } from '../../src/runtime/fuel/instrumentCoreModule.ts';
import { makeFifo, releaseFifo, settledWithin } from '../config/specialFiles.ts';
import { fixture, gatedHostCaller, hostCallerImports, newRuntime } from '../helpers.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

async function loadError(promise: Promise<unknown>): Promise<LoadError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LoadError);
  return error as LoadError;
}

describe('load', () => {
  const compute = readFileSync(fixture('compute'));

  it('default: loads a component and lists its exports', async () => {
    const component = await runtime.load(fixture('compute'));
    expect(component.name).toBe('compute');
    expect(component.exports.map(([n]) => n)).toEqual(expect.arrayContaining(['add', 'work', 'echo', 'reverse']));
  });

  it('error: bytes that are not wasm', async () => {
    const error = await loadError(runtime.load(new TextEncoder().encode('{"hello": "json"}'), { name: 'json' }));
    expect(error.code).toBe('not-wasm');
  });

  it('error: empty bytes', async () => {
    expect((await loadError(runtime.load(new Uint8Array(), { name: 'empty' }))).code).toBe('not-wasm');
  });

  it('error: truncated component, with the offset of the section that runs past the end', async () => {
    const error = await loadError(runtime.load(compute.subarray(0, compute.length - 100), { name: 'cut' }));
    expect(error.code).toBe('truncated');
    expect(error.details.length).toBe(compute.length - 100);
    expect(error.details.offset).toEqual(expect.any(Number));
  });

  it.each([
    ['cut inside its size', [0x80]],
    ['a size longer than a u32 LEB128 may be', [0x80, 0x80, 0x80, 0x80, 0x80, 0x00]],
  ])('error: a section whose size does not decode (%s) is truncated, at that section', async (_case, size) => {
    const bytes = Uint8Array.from([...compute.subarray(0, 8), 0x01, ...size]);
    const error = await loadError(runtime.load(bytes, { name: 'cut-size' }));
    expect(error.code).toBe('truncated');
    expect(error.details).toMatchObject({ length: bytes.length, offset: 8 });
  });

  it('error: a core module, with the advice to wrap it', async () => {
    const core = await parse('(module (func (export "f")))');
    const error = await loadError(runtime.load(core, { name: 'core' }));
    expect(error.code).toBe('core-module');
    expect(error.message).toContain('jco new');
  });

  it('error: an unknown binary version', async () => {
    const bytes = Uint8Array.from(compute);
    bytes[4] = 0x0c;
    expect((await loadError(runtime.load(bytes, { name: 'v12' }))).code).toBe('unsupported-version');
  });

  it('error: a component the toolchain rejects', async () => {
    const bytes = Uint8Array.from(compute);
    bytes.fill(0xff, 40, 60); // corrupt the inside of the first section, sizes intact
    expect((await loadError(runtime.load(bytes, { name: 'garbled' }))).code).toBe('invalid-component');
  });

  it('error: an interface import the embedder did not provide', async () => {
    const error = await loadError(runtime.load(fixture('host-caller')));
    expect(error.code).toBe('import-not-provided');
    expect(error.details.import).toBe('corral-fixtures:host-caller/host');
    expect(error.message).toContain('`corral-fixtures:host-caller/host`');
  });

  it('error: one function of an import missing', async () => {
    const imports = hostCallerImports();
    delete imports['corral-fixtures:host-caller/host']!.nop;
    const error = await loadError(runtime.load(fixture('host-caller'), { imports }));
    expect(error.code).toBe('import-not-provided');
    expect(error.details.function).toBe('nop');
  });

  it('error: initial memory above the cap', async () => {
    // The QuickJS guest starts with 22 pages (1.4 MiB) of memory.
    const imports = { 'corral-fixtures:js-guest/host': { echo: (s: string) => s } };
    const error = await loadError(runtime.load(fixture('js-guest'), { imports, limits: { memoryBytes: 1024 * 1024 } }));
    expect(error.code).toBe('memory-over-cap');
    expect(error.details.limitBytes).toBe(1024 * 1024);
    expect(error.details.initialBytes).toBeGreaterThan(1024 * 1024);
  });

  it('error: an unreadable path', async () => {
    expect((await loadError(runtime.load('/nonexistent/guest.wasm'))).code).toBe('unreadable');
  });

  it('error: a FIFO or /dev/zero as the component is refused at once as not-a-regular-file, naming the path (no hang, no unbounded read)', async () => {
    const fifo = makeFifo('guest.wasm');
    try {
      for (const path of [fifo, '/dev/zero']) {
        const result = await settledWithin(runtime.load(path), 5_000);
        expect(result).not.toBe('hung');
        const error = (result as { error: unknown }).error;
        expect(error).toBeInstanceOf(LoadError);
        expect((error as LoadError).code).toBe('not-a-regular-file');
        expect((error as LoadError).details.source).toBe(path);
      }
    } finally {
      releaseFifo(fifo);
    }
  });

  it('behavior: a sha256 pin is checked on the bytes read once and prepared: the prepared artifact has the pinned digest; other bytes are refused', async () => {
    const pin = createHash('sha256').update(compute).digest('hex');
    const pinned = await runtime.load(fixture('compute'), { name: 'pinned', sha256: pin });
    expect(pinned.meta.sha256).toBe(pin);
    const error = await loadError(runtime.load(fixture('watcher'), { name: 'other', sha256: pin }));
    expect(error.code).toBe('sha256-mismatch');
    expect(error.details).toMatchObject({ expected: pin, source: fixture('watcher') });
    expect(error.details.actual).not.toBe(pin);
  });

  it('behavior: keeps serving after every rejected load', async () => {
    const component = await runtime.load(fixture('compute'));
    expect((await component.call('add', [20, 22])).value).toBe(42);
  });

  it('behavior: a second runtime reads the prepared artifact from the disk cache', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'corral-cache-'));
    const first = newRuntime({ cacheDir, threads: 1 });
    const second = newRuntime({ cacheDir, threads: 1 });
    try {
      const cold = await first.load(fixture('compute'));
      const warm = await second.load(fixture('compute'));
      expect(cold.fromCache).toBe(false);
      expect(warm.fromCache).toBe(true);
      expect(warm.artifactDir).toBe(cold.artifactDir);
      expect((await warm.call('add', [1, 2])).value).toBe(3);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('behavior: a cache deleted under a running runtime: workers started after it (a kill\'s replacements) still build instances, and a new load prepares again', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'corral-cache-gone-'));
    const own = newRuntime({ cacheDir, threads: 1 });
    try {
      const component = await own.load(fixture('compute'));
      expect((await component.call('add', [1, 2])).value).toBe(3);
      rmSync(cacheDir, { recursive: true, force: true });
      for (let round = 0; round < 3; round++) {
        // Killing the call terminates its worker: piscina starts another, which has never seen the component.
        const busy = component.invoke('spin', [], { fuel: 1e15, timeoutMs: 60_000 });
        await new Promise((resolve) => setTimeout(resolve, 50));
        component.kill();
        expect((await busy).ok).toBe(false);
        for (let i = 0; i < 4; i++) expect((await component.call('add', [i, 1])).value).toBe(i + 1);
      }
      const again = await own.load(fixture('compute'), { name: 'again' });
      expect((await again.call('add', [20, 22])).value).toBe(42);
    } finally {
      await own.close();
    }
  });
});

describe('load: Wasm proposals the meter cannot meter', () => {
  it('error: a core module using try_table (exception handling with exnref) is refused naming the feature and the instruction', async () => {
    // Built with binaryen from text: the toolchains emit it for C++/Rust exceptions. binaryen's JS
    // API cannot walk a try_table's body, so its code could not be charged: refused at load.
    const { default: binaryen } = await import('binaryen');
    const module = binaryen.parseText('(module (tag $e) (func (export "f") (result i32) (block $h (try_table (catch_all $h) (throw $e))) (i32.const 1)))');
    module.setFeatures(binaryen.Features.All);
    const bytes = module.emitBinary();
    module.dispose();
    await expect(instrumentCoreModule(bytes, 'eh-guest')).rejects.toThrow(
      expect.objectContaining({ name: 'LoadError', code: 'unsupported-feature', details: expect.objectContaining({ module: 'eh-guest', instruction: 'TryTable', feature: 'exception handling with exnref (try_table, throw_ref)' }) }),
    );
  });
});

describe('unload', () => {
  it('behavior: 30 loads then 30 unloads leave the runtime as it was; the workers drop the instances; later calls are refused', async () => {
    const own = newRuntime();
    try {
      const baseline = own.loadedComponents;
      const loaded: Component[] = [];
      for (let i = 0; i < 30; i++) loaded.push(await own.load(fixture('compute'), { name: `c${i}` }));
      await Promise.all(loaded.map((c, i) => c.call('add', [i, 1])));
      expect(own.loadedComponents).toBe(baseline + 30);
      expect(loaded.every((c) => c.stats().size === 1)).toBe(true);
      for (const c of loaded) c.close();
      expect(own.loadedComponents).toBe(baseline);
      await expect(loaded[0]!.call('add', [1, 1])).rejects.toMatchObject({ name: 'CorralRuntimeError', code: 'closed', details: { component: 'c0' } });
      // Each worker drops unloaded components at its next call: keep both busy until every instance is gone.
      const other = await own.load(fixture('compute'), { name: 'other' });
      await expect
        .poll(async () => {
          await Promise.all(Array.from({ length: 8 }, () => other.call('add', [1, 1])));
          return loaded.reduce((sum, c) => sum + c.stats().size, 0);
        })
        .toBe(0);
      expect(loaded.every((c) => c.stats().recycled.close === 1)).toBe(true);
    } finally {
      await own.close();
    }
  });

  it('behavior: a call in flight when its component is unloaded finishes; its instance is not kept', async () => {
    const own = newRuntime({ threads: 1 });
    try {
      const { caller, inHost, release } = await gatedHostCaller(own);
      const call = caller.call('call-slow', [1]);
      await inHost;
      own.unload(caller);
      release(9);
      expect((await call).value).toBe(9);
      expect(caller.stats()).toMatchObject({ size: 0, recycled: expect.objectContaining({ close: 1 }) });
    } finally {
      await own.close();
    }
  });
});
