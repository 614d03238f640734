import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Recorder, ReplayError, decodeRecording, replay, type Recording, type Runtime } from '../../src/index.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { encodeRecording } from '../../src/replay/Recording.ts';
import { MAX_RECORDING_LINE_BYTES } from '../../src/limits/defaults.ts';
import { REPLAY_MAX_LIMITS } from '../../src/replay/replay.ts';
import type { OutOfFuelData } from '../../src/signals/OutOfFuel.ts';
import { makeFifo, releaseFifo, settledWithin } from '../config/specialFiles.ts';
import { captureLogger, fixture, hostCallerImports, newRuntime } from '../helpers.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));

/** Runs the counter module in a real engine with a recorder, through these commands; returns the saved recording's text. */
async function recordCounter(commands: object[]): Promise<{ file: string; committed: Record<string, string | undefined> }> {
  const recorder = new Recorder();
  const engine = await Engine.start({
    runtime,
    stateDir: mkdtempSync(join(tmpdir(), 'corral-state-')),
    logger: captureLogger().logger,
    record: recorder,
    modules: [{ name: 'counter', component: fixture('counter'), grants: { store: true, logging: true }, topics: ['cmd'] }],
  });
  for (const [i, command] of commands.entries()) {
    expect(await engine.deliver('counter', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: i + 1 })).toMatchObject({ ok: true });
  }
  const committed = { count: text(await engine.read('counter', bytes('count'))), echo: text(await engine.read('counter', bytes('echo'))) };
  await engine.stop();
  const file = join(mkdtempSync(join(tmpdir(), 'corral-rec-')), 'run.jsonl');
  await recorder.write(file);
  return { file, committed };
}

describe('record and replay', () => {
  it('default: a recording of an engine module replays with the same host calls (its state writes), results and fuel, with no store', async () => {
    const commands = [{ op: 'incr' }, { op: 'incr' }, { op: 'put', key: '6b', value: '0102' }, { op: 'echo-hex', key: '6b' }, { op: 'incr' }];
    const { file, committed } = await recordCounter(commands);
    const recording = decodeRecording(readFileSync(file, 'utf8'), file);
    expect(recording.invocations.map((i) => i.export)).toEqual(commands.map(() => 'on-event'));
    // The recorded store.set calls are the writes the engine committed.
    const sets = recording.invocations.flatMap((i) => i.hostCalls.filter((c) => c.fn === 'corral:module/store#set').map((c) => [text(c.args[0] as Uint8Array), text(c.args[1] as Uint8Array)]));
    expect(sets).toEqual([['count', '1'], ['count', '2'], ['k', '\x01\x02'], ['echo', '0102'], ['count', '3']]);
    expect(committed).toEqual({ count: '3', echo: '0102' });

    const report = await replay(recording, runtime);
    expect(report).toEqual({ invocations: 5, hostCalls: recording.invocations.reduce((n, i) => n + i.hostCalls.length, 0), cutShort: 0, identical: true });
  });

  it('behavior: replayed against a changed component, the first difference is reported: which invocation, which host call, recorded and replayed', async () => {
    const { file } = await recordCounter([{ op: 'incr' }, { op: 'incr' }]);
    const report = await replay(decodeRecording(readFileSync(file, 'utf8'), file), runtime, { components: { counter: fixture('counter-v2') } });
    expect(report).toMatchObject({ identical: false, invocations: 1, firstDifference: { invocation: 0, component: 'counter', export: 'on-event', kind: 'host-call', call: 1 } });
    const { expected, actual } = report.firstDifference as { expected: { fn: string; args: Uint8Array[] }; actual: { fn: string; args: Uint8Array[] } };
    expect(expected.fn).toBe('corral:module/store#set');
    expect(expected.args.map(text)).toEqual(['count', '1']);
    expect(actual.args.map(text)).toEqual(['count', '2']);
  });

  it('behavior: a WASI guest recorded without deterministic mode replays exactly: its clock and random answers come from the recording', async () => {
    const recorder = new Recorder();
    const guest = await runtime.load(fixture('wasi-guest'), { name: 'entropy', limits: { fuel: 5_000_000_000, timeoutMs: 10_000 }, record: recorder });
    const first = await guest.call('entropy', []);
    await guest.call('add', [1, 2]);
    guest.close();
    const recording = decodeRecording(encodeRecording(recorder.toJSON()), 'memory');
    expect(recording.invocations[0]!.wasiCalls.map((c) => c.fn)).toEqual(expect.arrayContaining(['wasi:clocks/wall-clock#now', 'wasi:random/random#get-random-bytes']));
    const report = await replay(recording, runtime);
    expect(report).toMatchObject({ identical: true, invocations: 2 });
    expect(recording.invocations[0]!.outcome).toEqual({ ok: true, value: first.value, fuelUsed: first.fuelUsed });
  });

  it('behavior: a recorder writing to a file appends each invocation as it ends (JSON Lines), and the file replays', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'corral-rec-')), 'run.jsonl');
    const recorder = new Recorder({ file });
    const compute = await runtime.load(fixture('compute'), { name: 'adder', record: recorder });
    for (let i = 0; i < 3; i++) await compute.call('add', [i, 1]);
    await recorder.close();
    compute.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(5); // header, the component, three invocations
    expect(recorder.toJSON().invocations).toEqual([]); // nothing kept in memory
    const recording = decodeRecording(readFileSync(file, 'utf8'), file);
    expect(recording.invocations.map((i) => i.outcome)).toMatchObject([{ value: 1 }, { value: 2 }, { value: 3 }]);
    expect(await replay(recording, runtime)).toMatchObject({ identical: true, invocations: 3 });
  });

  it('args: values JSON lacks come back as themselves: bigints, typed arrays, undefined (also inside lists), Buffers as bytes', () => {
    const invocation = { component: 'c', invocationId: 'i', export: 'f', args: [10n ** 20n, new Uint32Array([1, 2]), new BigInt64Array([-1n, 2n ** 62n]), [undefined, 1], { a: undefined }], fuel: 1, timeoutMs: 1, hostCalls: [{ fn: 'x#y', args: [Buffer.from('ab')], result: undefined }], wasiCalls: [], outcome: { ok: true as const, value: [undefined], fuelUsed: 1 } };
    const back = decodeRecording(encodeRecording({ corral: 'recording', version: 1, components: { c: { sha256: 's', limits: { fuel: 1, timeoutMs: 1, memoryBytes: 65536 } } }, invocations: [invocation] }), 'memory');
    expect(back.invocations[0]).toStrictEqual({ ...invocation, hostCalls: [{ fn: 'x#y', args: [new Uint8Array([97, 98])], result: undefined }] });
  });

  it('behavior: an invocation recorded as ExecutionTimeout (its host never answered) replays up to where it stopped and is counted, not compared', async () => {
    const recorder = new Recorder();
    const caller = await runtime.load(fixture('host-caller'), {
      name: 'stuck',
      limits: { timeoutMs: 1_000 }, // room for the calls that do get answers, on a loaded machine too
      record: recorder,
      imports: hostCallerImports({ slow: () => new Promise<number>(() => {}) }), // never answers
    });
    expect((await caller.invoke('call-echo', ['before'])).ok).toBe(true);
    expect(await caller.invoke('call-slow', [5])).toMatchObject({ ok: false, signal: { name: 'ExecutionTimeout' } });
    expect((await caller.invoke('call-echo', ['after'])).ok).toBe(true);
    caller.close();
    const recording = decodeRecording(encodeRecording(recorder.toJSON()), 'memory');
    expect(recording.invocations[1]!.hostCalls).toEqual([{ fn: 'corral-fixtures:host-caller/host#slow', args: [5] }]); // asked, never answered
    expect(await replay(recording, runtime)).toEqual({ invocations: 3, hostCalls: 3, cutShort: 1, identical: true });
  });

  it('behavior: a recorded call keeps at most 1 MiB of WASI answers: asking for more random bytes ends the call; under that it records and replays', async () => {
    const recorder = new Recorder();
    const probe = await runtime.load(fixture('wasi-probe'), { name: 'rand', record: recorder });
    expect((await probe.invoke('rand', [1024n, 4])).ok).toBe(true);
    const greedy = (await probe.invoke('rand', [2n * 1024n * 1024n, 1])) as { ok: boolean; signal?: { hostError?: { name: string } } };
    expect(greedy).toMatchObject({ ok: false, signal: { name: 'Trap', hostError: { name: 'WasiInvalidRequest' } } });
    probe.close();
    const recording = decodeRecording(encodeRecording(recorder.toJSON()), 'memory');
    expect(recording.invocations[0]!.wasiCalls.map((c) => [c.fn, c.args])).toEqual(Array.from({ length: 4 }, () => ['wasi:random/random#get-random-bytes', [1024n]]));
    expect(await replay(recording, runtime)).toMatchObject({ identical: true, invocations: 2 });
  });

  it('behavior: a deterministic component replays with its deterministic settings: a 5 s virtual sleep replays at once, with the same readings', async () => {
    const recorder = new Recorder();
    const probe = await runtime.load(fixture('wasi-probe'), { name: 'virtual-sleep', wasi: { deterministic: { seed: 7 } }, record: recorder });
    const slept = await probe.call('sleep', [5_000_000_000n]);
    probe.close();
    const recording = decodeRecording(encodeRecording(recorder.toJSON()), 'memory');
    expect(recording.components['virtual-sleep']!.wasi?.deterministic).toMatchObject({ seed: '7' });
    expect(recording.invocations[0]!.outcome).toMatchObject({ ok: true, value: slept.value });
    expect(await replay(recording, runtime)).toMatchObject({ identical: true, invocations: 1 });
  });

  it('error: a file that is not a recording is a ReplayError naming the line and what is wrong', () => {
    const refusal = (text: string) => {
      try {
        decodeRecording(text, 'r.jsonl');
      } catch (error) {
        return error;
      }
      return null;
    };
    const header = '{"corral":"recording","version":1}\n';
    expect(refusal('{"corral":"something else"}\n')).toMatchObject({ name: 'ReplayError', code: 'not-a-recording', details: { line: 1 } });
    expect(refusal('{"corral":"recording","version":99}\n')).toMatchObject({ code: 'not-a-recording', message: expect.stringContaining('version 99') });
    expect(refusal('not json\n')).toMatchObject({ code: 'not-a-recording', details: { line: 1 } });
    const ghost = JSON.stringify({ invocation: { component: 'ghost', export: 'x', args: [], fuel: 1, timeoutMs: 1, hostCalls: [], wasiCalls: [], outcome: { ok: true } } });
    expect(refusal(`${header}${ghost}\n`)).toMatchObject({ code: 'not-a-recording', details: { line: 2 } });
    const noLimits = JSON.stringify({ component: { name: 'c', sha256: 's' } });
    expect(refusal(`${header}${noLimits}\n`)).toMatchObject({ code: 'not-a-recording', details: { line: 2 } });
    const noSignal = JSON.stringify({ invocation: { component: 'c', export: 'x', args: [], fuel: 1, timeoutMs: 1, hostCalls: [], wasiCalls: [], outcome: { ok: false } } });
    const component = JSON.stringify({ component: { name: 'c', sha256: 's', limits: { fuel: 1, timeoutMs: 1, memoryBytes: 65536 } } });
    expect(refusal(`${header}${component}\n${noSignal}\n`)).toMatchObject({ code: 'not-a-recording', details: { line: 3 } });
    const proto = JSON.stringify({ component: { name: '__proto__', sha256: 's', limits: { fuel: 1, timeoutMs: 1, memoryBytes: 65536 } } });
    expect(Object.keys(decodeRecording(`${header}${proto}\n`, 'r.jsonl').components)).toEqual(['__proto__']); // a name, not the prototype
  });

  it('behavior: a cut-off last line (the recorder died writing it) is left out and flagged; the rest replays', async () => {
    const recorder = new Recorder();
    const compute = await runtime.load(fixture('compute'), { name: 'cut', record: recorder });
    for (let i = 0; i < 3; i++) await compute.call('add', [i, 1]);
    compute.close();
    const text = encodeRecording(recorder.toJSON());
    const cut = text.slice(0, text.length - 20);
    const recording = decodeRecording(cut, 'cut.jsonl');
    expect(recording).toMatchObject({ truncated: true });
    expect(recording.invocations).toHaveLength(2);
    expect(await replay(recording, runtime)).toMatchObject({ identical: true, invocations: 2, truncated: true });
  });

  it('error: a recorder whose file cannot be written is refused when it is made, not later', () => {
    expect(() => new Recorder({ file: '/no/such/dir/run.jsonl' })).toThrow(expect.objectContaining({ name: 'ReplayError', code: 'recording-unwritable' }));
  });

  it('args: numbers JSON lacks (NaN, infinities, -0) survive a recording, also inside float arrays', () => {
    const values = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, new Float64Array([Number.NaN, -0, 1.5])];
    const invocation = { component: 'c', invocationId: 'i', export: 'f', args: values, fuel: 1, timeoutMs: 1, hostCalls: [], wasiCalls: [], outcome: { ok: true as const, value: -0, fuelUsed: 1 } };
    const back = decodeRecording(encodeRecording({ corral: 'recording', version: 1, components: { c: { sha256: 's', limits: { fuel: 1, timeoutMs: 1, memoryBytes: 65536 } } }, invocations: [invocation] }), 'memory');
    expect(back.invocations[0]!.args).toStrictEqual(values);
    expect(Object.is(back.invocations[0]!.outcome.ok && back.invocations[0]!.outcome.value, -0)).toBe(true);
  });

  it('behavior: a host function that threw replays as identical (the error is rebuilt; stacks are not recorded)', async () => {
    const recorder = new Recorder();
    const caller = await runtime.load(fixture('host-caller'), {
      name: 'thrower',
      record: recorder,
      imports: hostCallerImports({ echo: () => { throw new TypeError('no echo today'); } }),
    });
    expect(await caller.invoke('call-echo', ['x'])).toMatchObject({ ok: false, signal: { name: 'Trap', code: 'host-error' } });
    caller.close();
    const recording = decodeRecording(encodeRecording(recorder.toJSON()), 'memory');
    expect(recording.invocations[0]!.hostCalls[0]).toEqual({ fn: 'corral-fixtures:host-caller/host#echo', args: ['x'], error: { name: 'TypeError', message: 'no echo today' } });
    expect(JSON.stringify(recording)).not.toContain('at '); // no stack lines
    expect(await replay(recording, runtime)).toMatchObject({ identical: true, invocations: 1 });
  });

  it('error: a recorded component file that changed since is not replayed by accident; an unknown --component name is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-rec-'));
    const copy = join(dir, 'guest.wasm');
    copyFileSync(fixture('compute'), copy);
    const recorder = new Recorder();
    const compute = await runtime.load(copy, { name: 'moving', record: recorder });
    await compute.call('add', [1, 2]);
    compute.close();
    copyFileSync(fixture('host-caller'), copy); // another component at the recorded path
    const recording = decodeRecording(encodeRecording(recorder.toJSON()), 'memory');
    await expect(replay(recording, runtime)).rejects.toMatchObject({ name: 'ReplayError', code: 'component-changed' });
    await expect(replay(recording, runtime, { components: { other: copy } })).rejects.toMatchObject({ code: 'unknown-component' });
    expect(await replay(recording, runtime, { components: { moving: fixture('compute') } })).toMatchObject({ identical: true });
  });


  it('behavior: recorded limits are clamped to the runtime\'s maxima: a spin recorded with fuel 9e15 and a 2³¹ ms deadline ends in OutOfFuel at REPLAY_MAX_LIMITS.fuel', async () => {
    const huge = { fuel: 9e15, timeoutMs: 2 ** 31, memoryBytes: 2 ** 40 };
    const recording: Recording = {
      corral: 'recording',
      version: 1,
      components: { spinner: { path: fixture('compute'), sha256: createHash('sha256').update(readFileSync(fixture('compute'))).digest('hex'), limits: huge } },
      invocations: [{ component: 'spinner', invocationId: 'x', export: 'spin', args: [], fuel: huge.fuel, timeoutMs: huge.timeoutMs, hostCalls: [], wasiCalls: [], outcome: { ok: true, value: undefined, fuelUsed: 1 } }],
    };
    const report = await replay(decodeRecording(encodeRecording(recording), 'memory'), runtime);
    expect(report.identical).toBe(false);
    const actual = report.firstDifference!.actual as { ok: false; signal: OutOfFuelData };
    expect(actual.signal).toMatchObject({ signal: 'OutOfFuel', fuelLimit: REPLAY_MAX_LIMITS.fuel });
  }, 60_000);

  it('error: a line longer than the bound is refused as line-too-long before it is parsed', () => {
    const typed = `{"invocation":{"args":[{"$typed":"Float64Array","data":[${'1,'.repeat(4_000)}1]}]}}`;
    const error = (() => {
      try {
        decodeRecording(`{"corral":"recording","version":1}\n${typed}\n`, 'big.jsonl', { maxLineBytes: 4_096 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ReplayError);
    expect((error as ReplayError).code).toBe('line-too-long');
    expect((error as ReplayError).details).toMatchObject({ source: 'big.jsonl', line: 2, limitBytes: 4_096 });
    expect(() => decodeRecording(`{"corral":"recording","version":1}\n{"x":"${'a'.repeat(MAX_RECORDING_LINE_BYTES)}"}\n`, 'default')).toThrow(ReplayError);
  });

  it('error: a recorded component path that is a FIFO or /dev/zero is refused as component-refused before it is hashed (no hang, no unbounded read)', async () => {
    const fifo = makeFifo('guest.wasm');
    try {
      for (const path of [fifo, '/dev/zero']) {
        const recording: Recording = {
          corral: 'recording',
          version: 1,
          components: { odd: { path, sha256: '0'.repeat(64), limits: { fuel: 1_000, timeoutMs: 100, memoryBytes: 65_536 } } },
          invocations: [{ component: 'odd', invocationId: 'x', export: 'add', args: [1, 2], fuel: 1_000, timeoutMs: 100, hostCalls: [], wasiCalls: [], outcome: { ok: true, value: 3, fuelUsed: 1 } }],
        };
        const result = await settledWithin(replay(recording, runtime), 5_000);
        expect(result).not.toBe('hung');
        const error = (result as { error: unknown }).error;
        expect(error).toBeInstanceOf(ReplayError);
        expect((error as ReplayError).code).toBe('component-refused');
        expect((error as ReplayError).details).toMatchObject({ path, reason: 'not-a-regular-file' });
      }
    } finally {
      releaseFifo(fifo);
    }
  });
});
