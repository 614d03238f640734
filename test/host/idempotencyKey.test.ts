import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { chainStepKey, customKey, jobIdempotencyKey, scheduleKey, timerIdempotencyKey } from '../../src/engine/idempotencyKey.ts';
import { checkCapabilities } from '../../src/engine/ModuleManifest.ts';
import { parseManifest } from '../../src/config/ModuleManifestSchema.ts';
import { LoadError } from '../../src/errors/LoadError.ts';
import type { ModuleManifest, Runtime } from '../../src/index.ts';
import { JOB_RETRY, TIMER_RETRY } from '../../src/limits/defaults.ts';
import { decodeRecording, encodeRecording } from '../../src/replay/Recording.ts';
import { Recorder } from '../../src/replay/Recorder.ts';
import { replay } from '../../src/replay/replay.ts';
import { startAnvil, type Anvil } from '../anvil.ts';
import { deployEmitter } from '../emitter.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';

const runtime: Runtime = newRuntime({ threads: 3 });
afterAll(() => runtime.close());

const IDEM_PROBE = join(dirname(fixture('counter')), 'idem-probe.wasm');
const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));

interface Received {
  path: string;
  key: string;
  label: string;
}

/**
 * A target as the docs describe one: it acts on each (key, label) once and drops repeats (a chain
 * step's events share its key: the label is the module's part per event). `answerWith` decides, per
 * request and how often its (key, label) came before, whether to answer `crash` (the module then
 * fails after the effect, as a replica dying before its commit would) or to `hold` it unanswered.
 */
async function dedupingTarget() {
  const received: Received[] = [];
  const acted = new Map<string, number>();
  let answer: (r: Received, seen: number) => 'crash' | 'hold' | undefined = () => undefined;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const r: Received = { path: request.url ?? '/', key: String(request.headers['idempotency-key']), label: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      const id = `${r.key}|${r.label}`;
      const seen = acted.get(id) ?? 0;
      acted.set(id, seen + 1);
      const decided = answer(r, seen);
      if (decided !== 'hold') response.end(decided ?? (seen > 0 ? 'repeat' : 'ok'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    received,
    /** Effects the target carried out (of `label`): one per (key, label), however often it was sent. */
    effects: (label?: string) => [...acted.keys()].filter((id) => label === undefined || id.endsWith(`|${label}`)).length,
    /** The requests of `label`, in the order they came. */
    sent: (label: string) => received.filter((r) => r.label === label),
    answerWith(rule: (r: Received, seen: number) => 'crash' | 'hold' | undefined) {
      answer = rule;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Target = Awaited<ReturnType<typeof dedupingTarget>>;

/** What the module committed: the key of each label it handled (`seen/<label>`). */
async function seenKeys(engine: Engine): Promise<Record<string, string>> {
  const entries = (await engine.entries('i')).map(([k, v]) => [text(k)!, text(v)!] as const);
  return Object.fromEntries(entries.filter(([k]) => k.startsWith('seen/')).map(([k, v]) => [k.slice('seen/'.length), v]));
}

function idemProbe(target: Target, extra: Partial<ModuleManifest> = {}): ModuleManifest {
  return {
    name: 'i',
    component: IDEM_PROBE,
    config: target.url,
    topics: ['cmd'],
    limits: { fuel: 200_000_000, timeoutMs: 10_000 },
    ...extra,
    grants: { store: true, http: { hosts: [target.host] }, timers: true, queue: true, ...extra.grants },
  };
}

async function idemEngine(target: Target, options: { stateDir?: string; record?: Recorder; start?: number } = {}) {
  const clock = new ManualClock(options.start ?? 1_000_000);
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'corral-idem-'));
  const engine = await Engine.start({ runtime, stateDir, logger: captureLogger().logger, clock, modules: [idemProbe(target)], ...(options.record ? { record: options.record } : {}) });
  await engine.jobsSettled();
  let seq = 0;
  const run = (payload: string, cursor: unknown = { seq: ++seq }) => engine.deliver('i', { tag: 'custom', val: { topic: 'cmd', payload } }, cursor);
  const seen = () => seenKeys(engine);
  const advance = async (ms: number) => {
    clock.advance(ms);
    await engine.settled('i');
    await engine.jobsSettled();
  };
  return { engine, clock, run, seen, advance, stateDir };
}

describe('idempotency keys (the keys themselves)', () => {
  const block = { number: 19_000_123n, hash: '0xabc' };

  it('default: each kind of step and job has the documented shape', () => {
    expect(chainStepKey('twap', 1n, { cursor: block })).toBe('twap/chain:1/19000123/0xabc');
    expect(customKey('twap', { tag: 'custom', val: { topic: 't', payload: 'p' } }, { seq: 7 })).toMatch(/^twap\/custom\/7\/[0-9a-f]{16}$/);
    expect(timerIdempotencyKey('twap', { tag: 'next-part', spec: { at: 1_700_000_000_000 } })).toBe('twap/timer/next-part/1700000000000');
    expect(timerIdempotencyKey('twap', { tag: 'b', spec: { chain: '1', block: '19000200' } })).toBe('twap/timer/b/chain:1:19000200');
    expect(scheduleKey('twap', { name: '*/5 * * * *', tick: 1_700_000_000_000 })).toBe('twap/schedule/*%2F5%20*%20*%20*%20*/1700000000000');
    expect(jobIdempotencyKey('twap', '00abc-x1')).toBe('twap/job/00abc-x1');
  });

  it('behavior: the undo of a block has a key of its own, not that of the step ending where the undo leaves the cursor, nor that of the block it undoes', () => {
    const prev = { number: 19_000_122n, hash: '0x122' };
    const entry = { number: block.number, hash: block.hash, prev, undo: [], payload: [] };
    const undo = chainStepKey('twap', 1n, { cursor: prev, undo: { entry } });
    expect(undo).toBe('twap/chain:1/19000123/0xabc/undo');
    expect(new Set([undo, chainStepKey('twap', 1n, { cursor: prev }), chainStepKey('twap', 1n, { cursor: block })]).size).toBe(3);
    // The block that replaces it at the same height is another step.
    expect(chainStepKey('twap', 1n, { cursor: { number: block.number, hash: '0xdef' } })).not.toBe(chainStepKey('twap', 1n, { cursor: block }));
  });

  it('behavior: a custom event that reuses the sequence number of one lost in a crash (LevelDB numbering) gets another key; the same event again gets the same key', () => {
    const event = (payload: string) => ({ tag: 'custom' as const, val: { topic: 'cmd', payload } });
    expect(customKey('m', event('a'), { seq: 5 })).toBe(customKey('m', event('a'), { seq: 5 }));
    expect(customKey('m', event('a'), { seq: 5 })).not.toBe(customKey('m', event('b'), { seq: 5 }));
    expect(customKey('m', event('a'), { seq: 5 })).not.toBe(customKey('m', event('a'), { seq: 6 }));
    expect(customKey('m', event('a'), { seq: 5n })).toBe(customKey('m', event('a'), { seq: 5 }));
  });

  it('behavior: a tag or name with a slash cannot make one key equal to another', () => {
    expect(timerIdempotencyKey('m', { tag: 'a/1', spec: { at: 2 } })).toBe('m/timer/a%2F1/2');
    expect(scheduleKey('m', { name: 'a/b', tick: 3 }).split('/')).toEqual(['m', 'schedule', 'a%2Fb', '3']);
  });
});

describe('corral:module/invocation in the world', () => {
  it('default: a component may import it with no grant (its manifest grants nothing); a name beside it in the package is still not part of the world', () => {
    const manifest = parseManifest({ name: 'm', component: 'm.wasm' });
    expect(() => checkCapabilities(manifest, { 'corral:module/invocation@0.1.0': ['idempotency-key'] }, ['onEvent'])).not.toThrow();
    const error = (() => {
      try {
        checkCapabilities(manifest, { 'corral:module/invocations@0.1.0': ['idempotency-key'] }, ['onEvent']);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(LoadError);
    expect(error).toMatchObject({ code: 'not-a-module' });
  });
});

describe('idempotency keys (a module that imports corral:module/invocation)', () => {
  it('default: the module loads without a grant for it; its custom events, timer and jobs each get a key of their own, which reach the target as the header it set', async () => {
    const target = await dedupingTarget();
    const { engine, run, seen, advance } = await idemEngine(target);
    const timer = JSON.stringify({ op: 'timer', at: 1_000_500, tag: 'wake/up' });
    const enqueue = (payload: string) => JSON.stringify({ op: 'enqueue', type: 'work', payload });
    for (const payload of ['a', 'b', timer, enqueue('one'), enqueue('two')]) expect(await run(payload)).toMatchObject({ ok: true });
    await advance(500);

    const keys = await seen();
    expect(Object.keys(keys).sort()).toEqual(['custom:a', 'custom:b', `custom:${enqueue('one')}`, `custom:${enqueue('two')}`, `custom:${timer}`, 'job:module-activated:', 'job:work:one', 'job:work:two', 'timer:wake/up'].sort());
    expect(keys['custom:a']).toMatch(/^i\/custom\/1\/[0-9a-f]{16}$/);
    expect(keys['custom:b']).toMatch(/^i\/custom\/2\/[0-9a-f]{16}$/);
    expect(keys['timer:wake/up']).toBe('i/timer/wake%2Fup/1000500');
    expect(keys['job:work:one']).toMatch(/^i\/job\/[0-9a-z]+-[0-9a-z]+$/);
    expect(new Set(Object.values(keys)).size).toBe(Object.keys(keys).length); // all different
    // Every request carried the key its label was committed with (a job re-run after a conflicting commit, too).
    for (const r of target.received) expect(r.key).toBe(keys[r.label]);
    await engine.stop();
    await target.close();
  });

  it('behavior: an event that fails after its effect, delivered again from its cursor, gets the same key, and the target drops the repeat', async () => {
    const target = await dedupingTarget();
    target.answerWith((r, seen) => (r.label === 'custom:pay' && seen === 0 ? 'crash' : undefined));
    const { engine, run, seen, clock } = await idemEngine(target);
    expect(await run('pay', { seq: 1 })).toMatchObject({ ok: false, signal: { name: 'OutOfFuel' } });
    expect((await seen())['custom:pay']).toBeUndefined(); // its writes were dropped, its POST was not
    clock.advance(1_000); // the actor's restart backoff
    // Its cursor was not committed: a new owner (or an embedder publishing it again) hands it over again.
    expect(await run('pay', { seq: 1 })).toMatchObject({ ok: true });
    const sent = target.sent('custom:pay');
    expect(sent).toHaveLength(2);
    expect(sent[1]!.key).toBe(sent[0]!.key);
    expect(target.effects('custom:pay')).toBe(1);
    expect((await seen())['custom:pay']).toBe(sent[0]!.key);
    await engine.stop();
    await target.close();
  });

  it('behavior: a timer whose handler fails after its effect fires again with the same key', async () => {
    const target = await dedupingTarget();
    target.answerWith((r, seen) => (r.label === 'timer:t' && seen === 0 ? 'crash' : undefined));
    const { engine, run, seen, advance } = await idemEngine(target);
    await run(JSON.stringify({ op: 'timer', at: 1_000_100, tag: 't' }));
    await advance(100);
    expect(target.sent('timer:t')).toHaveLength(1);
    await advance(TIMER_RETRY.initialMs);
    expect(target.sent('timer:t').map((r) => r.key)).toEqual(['i/timer/t/1000100', 'i/timer/t/1000100']);
    expect((await seen())['timer:t']).toBe('i/timer/t/1000100');
    await engine.stop();
    await target.close();
  });

  it('behavior: a job keeps its key across its retries; another job has another', async () => {
    const target = await dedupingTarget();
    target.answerWith((r, seen) => (r.label === 'job:work:flaky' && seen < 2 ? 'crash' : undefined));
    const { engine, run, seen, advance } = await idemEngine(target);
    await run(JSON.stringify({ op: 'enqueue', type: 'work', payload: 'flaky', maxRetry: 5 }));
    await run(JSON.stringify({ op: 'enqueue', type: 'work', payload: 'steady' }));
    await engine.jobsSettled();
    await advance(JOB_RETRY.initialMs);
    await advance(2 * JOB_RETRY.initialMs);
    const flaky = target.sent('job:work:flaky');
    expect(flaky).toHaveLength(3);
    expect(new Set(flaky.map((r) => r.key)).size).toBe(1);
    const steady = target.sent('job:work:steady');
    expect(steady[0]!.key).not.toBe(flaky[0]!.key);
    const keys = await seen();
    expect([keys['job:work:flaky'], keys['job:work:steady']]).toEqual([flaky[0]!.key, steady[0]!.key]);
    await engine.stop();
    await target.close();
  });

  it('behavior: a job whose engine is SIGKILLed after its effect and before its commit runs in the next engine with the same key', async () => {
    const target = await dedupingTarget();
    // The first POST of the task is held: the engine dies with the effect done and nothing committed.
    target.answerWith((r, seen) => (r.label === 'job:work:once' && seen === 0 ? 'hold' : undefined));
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-idem-kill-'));
    const child = fileURLToPath(new URL('./idemProcess.ts', import.meta.url));
    const proc = spawn(process.execPath, ['--import', 'tsx', child, stateDir, target.url, target.host], { stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
    await expect.poll(() => target.sent('job:work:once').length, { timeout: 60_000 }).toBe(1);
    proc.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const { engine, seen } = await idemEngine(target, { stateDir, start: Date.now() });
    await expect.poll(async () => (await seen())['job:work:once']).toBeDefined();
    const sent = target.sent('job:work:once');
    expect(sent).toHaveLength(2);
    expect(sent[1]!.key).toBe(sent[0]!.key);
    expect((await seen())['job:work:once']).toBe(sent[0]!.key);
    expect(target.effects('job:work:once')).toBe(1);
    await engine.stop();
    await target.close();
  });

  it('behavior: a recorded invocation that asked for its key replays from the recording', async () => {
    const target = await dedupingTarget();
    const recorder = new Recorder();
    const { engine, run } = await idemEngine(target, { record: recorder });
    await run('a');
    await run(JSON.stringify({ op: 'enqueue', type: 'work', payload: 'r' }));
    await engine.jobsSettled();
    await engine.stop();
    await target.close(); // a replay reaches nothing: the target is gone
    const recording = decodeRecording(encodeRecording(recorder.toJSON()), 'memory');
    const asked = recording.invocations.flatMap((i) => i.hostCalls.filter((c) => c.fn === 'corral:module/invocation#idempotencyKey').map((c) => c.result as string));
    expect(asked.filter((key) => key.startsWith('i/custom/'))).toHaveLength(2);
    expect(asked.filter((key) => key.startsWith('i/job/')).length).toBeGreaterThanOrEqual(3); // activated, the task, deactivated
    const report = await replay(recording, runtime);
    expect(report).toMatchObject({ invocations: recording.invocations.length, identical: true });

    // The same through the command line, from the recording's file.
    const file = join(mkdtempSync(join(tmpdir(), 'corral-idem-rec-')), 'run.corral-recording');
    await recorder.write(file);
    const cli = spawn(process.execPath, [fileURLToPath(new URL('../../bin/corral.mjs', import.meta.url)), 'replay', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    cli.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => cli.on('exit', (c) => resolve(c)));
    expect({ code, report: JSON.parse(out) as unknown }).toMatchObject({ code: 0, report: { ok: true, identical: true, invocations: recording.invocations.length } });
  });
});

describe('idempotency keys (chain steps, real anvil)', () => {
  let anvil: Anvil;
  beforeAll(async () => {
    anvil = await startAnvil();
  });
  afterAll(() => anvil?.stop());

  it('behavior: a block step that fails after its effect is run again with the same key (its block), each block has its own, and the undo of a reorged block has another, as does the block replacing it', async () => {
    const target = await dedupingTarget();
    const emitter = await deployEmitter(anvil);
    let crashed = false;
    // The first log the module posts: the step fails after that effect, and the feed runs it again.
    target.answerWith((r) => (r.label.startsWith('log:') && !crashed ? ((crashed = true), 'crash') : undefined));
    const engine = await Engine.start({
      runtime,
      stateDir: mkdtempSync(join(tmpdir(), 'corral-idem-chain-')),
      logger: captureLogger().logger,
      chains: { 31337: { rpcUrl: anvil.url, pollIntervalMs: 20 } },
      modules: [idemProbe(target, { topics: [], startBlock: Number(emitter.deployedAt) + 1, triggers: [{ kind: 'block', chain: 31337 }, { kind: 'log', chain: 31337, address: emitter.address }] })],
    });
    const first = await emitter.emit(1, 2);
    const second = await emitter.emit(2, 1);
    const [firstHash, oldSecondHash] = [(await emitter.client.getBlock({ blockNumber: first })).hash, (await emitter.client.getBlock({ blockNumber: second })).hash];
    await engine.reached('i', 31337, second, oldSecondHash);

    const firstKey = `i/chain:31337/${first}/${firstHash}`;
    const firstLog = target.sent(`log:${first}:0`);
    expect(firstLog.map((r) => r.key)).toEqual([firstKey, firstKey]); // the crashed try and the one that committed
    expect(target.sent(`log:${first}:1`).map((r) => r.key)).toEqual([firstKey]);
    expect(target.sent(`block:${first}`).map((r) => r.key)).toEqual([firstKey]);
    expect(target.effects(`log:${first}:0`)).toBe(1);
    expect(target.sent(`log:${second}:0`).map((r) => r.key)).toEqual([`i/chain:31337/${second}/${oldSecondHash}`]);

    // The second block is replaced by one with another log.
    await anvil.rpc('anvil_reorg', [1, [[emitter.call(9, 1), 0]]]);
    const newSecondHash = (await emitter.client.getBlock({ blockNumber: second })).hash;
    expect(newSecondHash).not.toBe(oldSecondHash);
    await engine.reached('i', 31337, second, newSecondHash);
    expect(target.sent(`log:${second}:0:removed`).map((r) => r.key)).toEqual([`i/chain:31337/${second}/${oldSecondHash}/undo`]);
    expect(target.sent(`log:${second}:0`).map((r) => r.key)).toEqual([`i/chain:31337/${second}/${oldSecondHash}`, `i/chain:31337/${second}/${newSecondHash}`]);
    // Blocks without logs of the Emitter: one key per block, none shared between blocks.
    const blockKeys = target.received.filter((r) => r.label.startsWith('block:')).map((r) => [r.label, r.key] as const);
    expect(new Set(blockKeys.map(([, key]) => key)).size).toBe(new Set(blockKeys.map(([label, key]) => `${label}|${key}`)).size);
    await engine.stop();
    await target.close();
  });
});
