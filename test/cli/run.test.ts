import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LevelStore } from '../../src/store/LevelStore.ts';
import { attachEmitter, deployEmitter } from '../emitter.ts';
import { fixture } from '../helpers.ts';

const bin = fileURLToPath(new URL('../../bin/corral.mjs', import.meta.url));
const env = { ...process.env, CORRAL_CACHE_DIR: process.env.CORRAL_TEST_CACHE_DIR };
type Line = Record<string, unknown>;

/** `corral run` in its own process, its JSON log lines readable as they come. */
function corralRun(config: string, ...flags: string[]) {
  const child: ChildProcess = spawn(process.execPath, [bin, 'run', config, ...flags], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  const waiters: { test: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = JSON.parse(buffer.slice(0, nl)) as Line;
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) if (w.test(line)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    lines,
    exited,
    /** The first log line (already seen or still to come) that passes `test`. */
    waitFor: (test: (l: Line) => boolean) => new Promise<Line>((resolve, reject) => {
      const seen = lines.find(test);
      if (seen) return resolve(seen);
      waiters.push({ test, resolve });
      void exited.then((code) => reject(new Error(`corral run exited (${code}) first; last lines: ${JSON.stringify(lines.slice(-3))}`)));
    }),
    signal: (s: NodeJS.Signals) => child.kill(s),
  };
}

const committed = (module: string, block: bigint) => (l: Line) => l.msg === 'chain step committed' && l.module === module && BigInt(l.block as string) >= block;

describe('corral run', () => {
  it('behavior: an engine.toml with an embedded anvil and two modules runs, stops gracefully on SIGTERM with its state intact, and a restart continues from the cursors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-run-'));
    // The first contract anvil's first account deploys has this address on every fresh chain.
    const emitterAddress = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
    writeFileSync(join(dir, 'engine.toml'), `
[engine]
state_dir = "state"
log_level = "debug"
[chains.31337]
rpc_url = "anvil"
[[modules]]
name = "logs"
component = "${fixture('watcher')}"
grants = { store = true, logging = true }
triggers = [{ kind = "log", chain = 31337, address = "${emitterAddress}" }]
start_block = 0
[[modules]]
name = "blocks"
component = "${fixture('watcher')}"
grants = { store = true, logging = true }
triggers = [{ kind = "block", chain = 31337, every = 2 }]
start_block = 0
`);
    // The first run is recorded; `corral replay` then runs the same invocations against the recording.
    const first = corralRun(join(dir, 'engine.toml'), '--record', join(dir, 'run.jsonl'));
    const started = await first.waitFor((l) => l.msg === 'embedded anvil chain started');
    await first.waitFor((l) => l.msg === 'engine running');
    const emitter = await deployEmitter({ url: started.url as string });
    expect(emitter.address).toBe(emitterAddress);
    let last = 0n;
    for (let i = 0; i < 5; i++) last = await emitter.emit(1, 2);
    await Promise.all([first.waitFor(committed('logs', last)), first.waitFor(committed('blocks', last - (last % 2n)))]);
    first.signal('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.lines.some((l) => l.msg === 'stopped')).toBe(true);

    const read = async () => {
      const store = await LevelStore.open(join(dir, 'state'));
      const count = async (name: string) => Number(new TextDecoder().decode((await (await store.module(name)).get(new TextEncoder().encode('n')))!));
      const result = { logs: await count('logs'), blocks: await count('blocks'), cursor: await (await store.module('logs')).cursor('chain:31337') };
      await store.close();
      return result;
    };
    // emitMany(tag, 2): two Pings and one Pong per block.
    expect(await read()).toMatchObject({ logs: 15, cursor: { number: String(last) } });

    // The recording replays with no chain and no store: the same host calls (reads, writes), results and fuel.
    const replayed = spawnSync(process.execPath, [bin, 'replay', join(dir, 'run.jsonl')], { env, encoding: 'utf8' });
    expect(replayed.status, replayed.stderr + replayed.stdout).toBe(0);
    const report = JSON.parse(replayed.stdout) as { identical: boolean; invocations: number; hostCalls: number };
    expect(report).toMatchObject({ ok: true, identical: true });
    expect(report.invocations).toBeGreaterThanOrEqual(2);
    expect(report.hostCalls).toBeGreaterThanOrEqual(15); // at least one store write per handled log

    // corral inspect shows what the run wrote (the engine is stopped: the database is free).
    const inspect = (...args: string[]) => JSON.parse(spawnSync(process.execPath, [bin, 'inspect', join(dir, 'state'), ...args], { env, encoding: 'utf8' }).stdout);
    const summary = inspect();
    expect(summary.modules.map((m: { name: string }) => m.name).sort()).toEqual(['blocks', 'logs']);
    expect(summary.modules.find((m: { name: string }) => m.name === 'logs')).toMatchObject({ cursors: { 'chain:31337': { number: String(last) } }, keys: 16, breaker: { state: 'closed' } });
    const listed = inspect('--module', 'logs', '--prefix', 'ev/', '--limit', '2');
    expect(listed.entries).toHaveLength(2);
    expect(listed.entries[0]).toMatchObject({ key: { utf8: 'ev/000001', base64: Buffer.from('ev/000001').toString('base64') }, value: { utf8: expect.stringMatching(/^log:\d+:0:/) } });

    const second = corralRun(join(dir, 'engine.toml'));
    const restarted = await second.waitFor((l) => l.msg === 'embedded anvil chain started');
    await second.waitFor((l) => l.msg === 'engine running');
    // The same chain, restored from the state directory, on a new port: the contract is still there.
    const same = attachEmitter(restarted.url as string, emitterAddress);
    expect(await same.client.getBlockNumber()).toBeGreaterThanOrEqual(last);
    const resumedFrom = last;
    for (let i = 0; i < 3; i++) last = await same.emit(2, 2);
    await second.waitFor(committed('logs', last));
    second.signal('SIGTERM');
    expect(await second.exited).toBe(0);
    const after = await read();
    expect(after.logs).toBe(15 + 9); // each event once: nothing re-applied, nothing missed
    expect(last).toBeGreaterThan(resumedFrom);
  }, 180_000); // two runs of `corral run`, a replay and inspections as child processes: over a minute on a loaded 2-core machine

  it('behavior: with nothing to follow (no chain, cron or timer) it stays up until SIGTERM, then stops gracefully with exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-run-idle-'));
    writeFileSync(join(dir, 'engine.toml'), '[engine]\nstate_dir = "state"\n');
    // Its log lines go to a file, as under a redirect.
    const log = join(dir, 'out.jsonl');
    const out = openSync(log, 'w');
    const child = spawn(process.execPath, [bin, 'run', join(dir, 'engine.toml')], { env, stdio: ['ignore', out, 'inherit'] });
    closeSync(out);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const lines = () => readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
    const running = async () => {
      for (;;) {
        if (lines().some((l) => l.msg === 'engine running')) return 'running';
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    expect(await Promise.race([running(), exited])).toBe('running');
    // Before the fix it exited with code 13 once its start-up work drained, ~1.5 s after that line here.
    const early = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 5_000))]);
    expect(early).toBe('still running');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines().some((l) => l.msg === 'stopped')).toBe(true);
  });

  it('error: a bad engine.toml exits 1 listing each problem with its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-run-bad-'));
    writeFileSync(join(dir, 'engine.toml'), '[engine]\nthreads = 0\n[chains.1]\nrpc_url = "nope"\n');
    const result = spawnSync(process.execPath, [bin, 'run', join(dir, 'engine.toml')], { env, encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('engine.threads: invalid-value');
    expect(result.stderr).toContain('chains.1.rpc_url: invalid-value');
  });

  it('error: a metrics address already in use is said, not swallowed: exit 1 with the reason', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'corral-run-port-'));
    writeFileSync(join(dir, 'engine.toml'), `[engine]\nstate_dir = "state"\nmetrics = "127.0.0.1:${port}"\n`);
    const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, 'run', join(dir, 'engine.toml')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('exit', (status) => resolve({ status, stderr }));
    });
    taken.close();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`metrics: cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
  });
});
