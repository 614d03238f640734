import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../../src/index.ts';
import { listDeadLetters, purgeDeadLetters } from '../../src/cli/deadLetters.ts';
import { inspectState } from '../../src/cli/inspect.ts';
import { inspectUrl } from '../../src/cli/inspectUrl.ts';
import { startConfigured } from '../../src/app/startConfigured.ts';
import { EngineConfigSchema } from '../../src/config/EngineConfig.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { deadMessages } from '../../src/engine/messageDeadLetters.ts';
import { DEFAULT_MESSAGES } from '../../src/limits/defaults.ts';
import { EngineMetrics } from '../../src/metrics/EngineMetrics.ts';
import { captureLogger, newRuntime } from '../helpers.ts';
import { command, got, handled, msgProbe } from './messagesHarness.ts';

let runtime: Runtime;
beforeAll(() => {
  runtime = newRuntime();
});
afterAll(async () => {
  await runtime?.close();
});

// `r` spins on the payload 'p' (out of fuel at every run: a poison message); `s` sends to it.
const modules = () => [msgProbe('s', { to: ['r'] }), msgProbe('r', { from: ['s'], spin: 'p', limits: { fuel: 5_000_000, timeoutMs: 10_000 } })];

async function deadOf(engine: Engine, module: string) {
  const view = await engine.readView();
  try {
    return await deadMessages((await view.module(module))!);
  } finally {
    await view.close();
  }
}

describe('dead letters of messages', () => {
  it('behavior: a receiver that fails on message 2 of 3 past its retries gets 1 and 3; 2 is a dead letter with its payload, and a restart delivers nothing again', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-messages-dead-'));
    const { logger, logged } = captureLogger();
    const engine = await Engine.start({ runtime, stateDir, logger, modules: modules() });
    try {
      expect(await command(engine, 's', { op: 'send', to: 'r', payloads: ['a', 'p', 'c'] })).toMatchObject({ ok: true });
      await handled(engine, 'r', 's', 3);
      expect((await got(engine, 'r')).map((m) => [m.seq, m.payload])).toEqual([
        [1, 'a'],
        [3, 'c'],
      ]);
      const [dead, ...more] = await deadOf(engine, 'r');
      expect(more).toEqual([]);
      expect(dead).toMatchObject({ from: 's', seq: 2, payload: 'p', removed: false, attempts: DEFAULT_MESSAGES.retry + 1, lastError: { signal: 'OutOfFuel' } });
      expect(engine.messageStats().r).toMatchObject({ delivered: 2, dead: 1 });
      const line = await logged((r) => r.msg === 'message failed for the last time: dead-lettered');
      expect(line).toMatchObject({ from: 's', to: 'r', seq: 2 });
      const metrics = new EngineMetrics(engine);
      const counted = await metrics.registry.getSingleMetric('corral_messages_total')!.get();
      metrics.close();
      expect(counted.values.find((v) => v.labels.module === 'r' && v.labels.outcome === 'dead')?.value).toBe(1);
    } finally {
      await engine.stop();
    }

    const again = await Engine.start({ runtime, stateDir, logger: captureLogger().logger, modules: modules() });
    try {
      // One more message after the restart: it is handled after whatever the feed would redeliver.
      await command(again, 's', { op: 'send', to: 'r', payloads: ['d'] });
      await handled(again, 'r', 's', 4);
      expect((await got(again, 'r')).map((m) => m.payload)).toEqual(['a', 'c', 'd']);
      expect(again.messageStats().r).toMatchObject({ delivered: 1, dead: 0 });
      expect((await deadOf(again, 'r')).map((d) => d.seq)).toEqual([2]);
    } finally {
      await again.stop();
    }
  }, 60_000);

  it("behavior: a dead letter keeps a cut payload (length and sha256 beside), so a message too big for the receiver's storedBytes is dead alone and a later one that fits is handled", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-messages-dead-quota-'));
    // Restarts fast and many: the test is about bytes, not about the supervisor's intensity.
    const lenient = { intensity: 100, periodMs: 5_000, backoffInitialMs: 10, backoffMaxMs: 20 };
    const engine = await Engine.start({ runtime, stateDir, logger: captureLogger().logger, modules: [msgProbe('s', { to: ['r'] }), msgProbe('r', { from: ['s'], caps: { storedBytes: 10_000 }, supervision: lenient } as never)] });
    try {
      const big = 'x'.repeat(6_000);
      await command(engine, 's', { op: 'send', to: 'r', payloads: [big, big, 'a'] });
      await handled(engine, 'r', 's', 3);
      // The receiver keeps what it gets: 6,000 bytes and 'a' fit its 10,000; the second 6,000 did not.
      expect((await got(engine, 'r')).map((m) => m.payload.length)).toEqual([6_000, 1]);
      const dead = await deadOf(engine, 'r');
      expect(dead.map((d) => [d.seq, d.lastError.signal])).toEqual([[2, 'HostLimitExceeded']]);
      expect(dead[0]!.payload).toBe('x'.repeat(dead[0]!.payload.length));
      expect(dead[0]!.payload.length).toBeLessThanOrEqual(DEFAULT_MESSAGES.deadPayloadBytes);
      expect(dead[0]).toMatchObject({ payloadBytes: 6_000, payloadSha256: createHash('sha256').update(big).digest('hex') });
      expect(engine.storedBytes().r).toBeLessThanOrEqual(10_000);
    } finally {
      await engine.stop();
    }
  }, 60_000);

  it('behavior: `corral dead-letters list` and `corral inspect --module` show a stopped engine\'s dead messages; `purge` deletes them', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-messages-dead-cli-'));
    const engine = await Engine.start({ runtime, stateDir, logger: captureLogger().logger, modules: modules() });
    try {
      await command(engine, 's', { op: 'send', to: 'r', payloads: ['p', 'b'], cid: 'k1' });
      await handled(engine, 'r', 's', 2);
    } finally {
      await engine.stop();
    }
    const listed = await listDeadLetters(stateDir);
    expect(Object.keys(listed)).toEqual(['r']);
    expect(listed.r).toMatchObject({ tasks: [], messages: [{ from: 's', seq: 1, payload: 'p', correlationId: 'k1', lastError: { signal: 'OutOfFuel' } }] });
    expect(await inspectState(stateDir, { module: 'r' })).toMatchObject({ messages: { dead: [{ from: 's', seq: 1, payload: 'p' }] } });
    expect(await purgeDeadLetters(stateDir, { module: 'r' })).toEqual({ r: 1 });
    expect(await listDeadLetters(stateDir)).toEqual({});
  }, 60_000);

  it('behavior: a running engine\'s read API pages its dead messages (`GET /v1/modules/<m>/messages?state=dead`): `corral inspect --url` shows what `corral inspect <state_dir>` shows after the stop', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-messages-dead-api-'));
    const env = { CORRAL_API_TOKEN: 'dead-token' };
    const configured = await startConfigured(EngineConfigSchema.parse({ engine: { stateDir, logLevel: 'silent', metrics: '127.0.0.1:0', api: { enabled: true } }, modules: modules() }), { env });
    let live: unknown;
    try {
      await command(configured.engine, 's', { op: 'send', to: 'r', payloads: ['p', 'b'] });
      await handled(configured.engine, 'r', 's', 2);
      live = await inspectUrl(configured.metrics!.url, { module: 'r' }, env);
      const refused = await fetch(`${configured.metrics!.url}/v1/modules/r/messages?state=pending`, { headers: { authorization: 'Bearer dead-token' } });
      expect(refused.status).toBe(400);
    } finally {
      await configured.stop();
    }
    expect((live as { messages: { dead: unknown[] } }).messages.dead).toMatchObject([{ from: 's', seq: 1, payload: 'p' }]);
    expect(JSON.parse(JSON.stringify(live))).toEqual(JSON.parse(JSON.stringify(await inspectState(stateDir, { module: 'r' }))));
  }, 60_000);
});
