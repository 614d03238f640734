import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Trap, type CallFailure, type Runtime } from '../../src/index.ts';
import { resolveWasiConfig } from '../../src/wasi/resolveWasiConfig.ts';
import { WasiHost } from '../../src/wasi/WasiHost.ts';
import { fixture, newRuntime } from '../helpers.ts';

// fixtures/wasi-probes/wasi-probe (WAT) calls WASI imports directly: a guest doing what toolchains'
// runtimes would not, to show the host's bounds.
const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

type Descriptor = {
  openAt(flags: object, path: string, open: object, descriptorFlags: object): Descriptor;
  readDirectory(): { readDirectoryEntry(): { name: string } | undefined };
  read(length: bigint, offset: bigint): [Uint8Array, boolean];
  stat(): { size: bigint };
};

describe('WASI host limits', () => {
  it('behavior: live WASI resources of an instance are bounded: a guest taking stdout handles in a loop ends in WasiResourceLimit, and the instance is retired', async () => {
    const probe = await runtime.load(fixture('wasi-probe'), { name: 'hoarder', limits: { fuel: 1e12, timeoutMs: 30_000 } });
    const held = (await probe.invoke('handles', [100])) as { ok: boolean };
    expect(held.ok).toBe(true); // a few are fine
    const hoard = (await probe.invoke('handles', [1_000_000])) as CallFailure;
    expect(hoard.signal).toBeInstanceOf(Trap);
    expect((hoard.signal as Trap).hostError).toMatchObject({ name: 'WasiResourceLimit' });
    expect(probe.stats().recycled.trap).toBe(1);
  });

  it('behavior: a sleep in deterministic mode moves the virtual clock at once; a real sleep past the deadline is ExecutionTimeout', async () => {
    const virtual = await runtime.load(fixture('wasi-probe'), { name: 'sleeper', wasi: { deterministic: true } });
    // 5 s of virtual time under the default 250 ms deadline: a sleep that waited would end in ExecutionTimeout.
    const slept = await virtual.call('sleep', [5_000_000_000n]);
    expect(slept.value).toBeGreaterThanOrEqual(5_000_000_000n);
    const real = await runtime.load(fixture('wasi-probe'), { name: 'real-sleeper', limits: { timeoutMs: 300 } });
    expect(await real.invoke('sleep', [60_000_000_000n])).toMatchObject({ ok: false, signal: { name: 'ExecutionTimeout', terminated: false } });
  });

  it('error: reading a directory as a stream is the error is-directory, not a trap', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-wasi-'));
    const probe = await runtime.load(fixture('wasi-probe'), { name: 'dirstream', wasi: { dirs: { '/': dir } } });
    expect((await probe.call('dirstream', [])).value).toBe(1000); // the probe's code for `read-via-stream` answering err
  });

  it('behavior: descriptors are open files, not paths: swapping a file or directory for a symlink out of the grant after the guest opened it reaches nothing outside', () => {
    const base = mkdtempSync(join(tmpdir(), 'corral-swap-'));
    mkdirSync(join(base, 'grant', 'sub'), { recursive: true });
    writeFileSync(join(base, 'grant', 'sub', 'inside.txt'), 'inside');
    writeFileSync(join(base, 'grant', 'f.txt'), 'inside file');
    mkdirSync(join(base, 'outside'));
    writeFileSync(join(base, 'outside', 'secret.txt'), 'SECRET');
    // The host in this thread, as the worker builds it: the swap is done by "another writer" between the guest's calls.
    const host = new WasiHost(resolveWasiConfig({ dirs: { '/d': join(base, 'grant') } }, 'c'), 1 << 26);
    const imports = host.imports({ 'wasi:filesystem/preopens': ['getDirectories'], 'wasi:filesystem/types': ['Descriptor'] });
    const root = (imports['wasi:filesystem/preopens']!.getDirectories as () => [Descriptor, string][])()[0]![0];
    const sub = root.openAt({}, 'sub', { directory: true }, { read: true });
    const file = root.openAt({}, 'f.txt', {}, { read: true });
    renameSync(join(base, 'grant', 'sub'), join(base, 'grant', 'sub.old'));
    symlinkSync(join(base, 'outside'), join(base, 'grant', 'sub'));
    rmSync(join(base, 'grant', 'f.txt'));
    symlinkSync(join(base, 'outside', 'secret.txt'), join(base, 'grant', 'f.txt'));
    const listing = sub.readDirectory();
    expect(listing.readDirectoryEntry()?.name).toBe('inside.txt'); // the directory that was opened
    expect(new TextDecoder().decode(file.read(100n, 0n)[0])).toBe('inside file'); // the file that was opened
    expect(() => root.openAt({}, 'sub/secret.txt', {}, { read: true })).toThrow('not-permitted'); // a fresh open through the swapped path
    expect(() => root.openAt({}, 'f.txt', {}, { read: true })).toThrow('not-permitted');
  });

  it('behavior: wasi:cli/exit(ok) in the middle of invokeEach ends the invocation there (Trap exit, status 0): the calls after it do not run on the unwound instance', async () => {
    const component = await runtime.load(fixture('wasi-exit'), { name: 'exit-each' });
    const outcome = (await component.invokeEach('run', [[-1], [0], [-1], [-1]])) as CallFailure;
    expect(outcome).toMatchObject({ ok: false, index: 1 });
    expect((outcome.signal as Trap).toData()).toMatchObject({ code: 'exit', status: 0 });
  });

  it('behavior: deterministic mode and recording build every instance inside its call: minInstances is set aside (no prewarm)', async () => {
    const component = await runtime.load(fixture('wasi-probe'), { name: 'no-prewarm', wasi: { deterministic: true }, pool: { minInstances: 2 } });
    expect((await component.call('sleep', [1n])).value).toBeGreaterThanOrEqual(1n);
    expect(component.stats()).toMatchObject({ prewarm: { runs: 0 }, created: 1 });
  });
});
