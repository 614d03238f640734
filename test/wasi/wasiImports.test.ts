import { afterAll, describe, expect, it } from 'vitest';
import { LoadError, Trap, type CallFailure, type Runtime } from '../../src/index.ts';
import { WASI_INTERFACES } from '../../src/wasi/wasiPolicy.ts';
import { WasiHost } from '../../src/wasi/WasiHost.ts';
import { resolveWasiConfig } from '../../src/wasi/resolveWasiConfig.ts';
import { fixture, newRuntime } from '../helpers.ts';

// Small WAT components (fixtures/wasi-probes) that import one WASI interface each.
const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

describe('WASI imports', () => {
  it('error: an import of wasi:sockets is refused at load, naming it', async () => {
    const error = await runtime.load(fixture('wasi-sockets')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadError);
    expect(error).toMatchObject({ code: 'import-not-provided', details: { import: 'wasi:sockets/ip-name-lookup@0.2.12' } });
    expect((error as Error).message).toContain('wasi:sockets/ip-name-lookup@0.2.12');
  });

  it('error: a WASI version corral has not checked is refused at load, naming the import and the version', async () => {
    const error = await runtime.load(fixture('wasi-future')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadError);
    expect(error).toMatchObject({ code: 'unsupported-wasi-version', details: { import: 'wasi:random/random@0.2.99', version: '0.2.99' } });
  });

  it('behavior: wasi:cli/exit with err ends the call in Trap exit with its status; with ok the call succeeds; either way the instance is retired', async () => {
    const component = await runtime.load(fixture('wasi-exit'));
    expect((await component.call('run', [-1])).value).toBe(7);
    const failed = (await component.invoke('run', [1])) as CallFailure;
    expect(failed.signal).toBeInstanceOf(Trap);
    expect((failed.signal as Trap).toData()).toMatchObject({ code: 'exit', status: 1 });
    const exited = await component.invoke('run', [0]);
    expect(exited).toMatchObject({ ok: true, value: undefined });
    expect(component.stats().recycled).toMatchObject({ trap: 1, exit: 1 });
    expect((await component.call('run', [-1])).value).toBe(7); // a fresh instance serves on
  });

  it('error: bad wasi options are refused at load, naming the option', () => {
    const refusal = (options: Parameters<typeof resolveWasiConfig>[0]) => {
      try {
        resolveWasiConfig(options, 'c');
      } catch (error) {
        return error;
      }
      return null;
    };
    expect(refusal({ dirs: { '/x': '/no/such/dir' } })).toMatchObject({ name: 'CorralRuntimeError', code: 'invalid-option', details: { option: 'wasi.dirs', component: 'c', value: '/no/such/dir' } });
    expect(refusal({ env: { 'A=B': 'c' } })).toMatchObject({ code: 'invalid-option', details: { option: 'wasi.env' } });
    expect(refusal({ deterministic: { stepNs: 0 } })).toMatchObject({ code: 'invalid-option', details: { option: 'wasi.deterministic.stepNs', value: 0 } });
    expect(refusal({ deterministic: { seed: 1.5 } })).toMatchObject({ code: 'invalid-option', details: { option: 'wasi.deterministic.seed' } });
  });

  it('behavior: every function the load check accepts is implemented by the WASI host (and nothing the host has goes unlisted)', () => {
    const host = new WasiHost(resolveWasiConfig({}, 'c'), 1 << 20);
    for (const [name, policy] of Object.entries(WASI_INTERFACES)) {
      if (policy.access === 'denied') continue;
      const implemented = host.imports({ [name]: policy.functions })[name]!;
      expect(Object.keys(implemented).sort(), name).toEqual([...policy.functions].sort());
    }
  });
});
