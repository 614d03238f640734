import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startConfigured } from '../../src/app/startConfigured.ts';
import { EngineConfigSchema } from '../../src/config/EngineConfig.ts';
import { deployEmitter } from '../emitter.ts';
import { fixture } from '../helpers.ts';

/** Prometheus text as `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('metrics', () => {
  it('behavior: /metrics scraped during a run shows the series with the run\'s values; /healthz and /readyz answer', async () => {
    const emitterAddress = '0x5fbdb2315678afecb367f032d93f642f64180aa3'; // the first contract on a fresh anvil
    const watcher = { component: fixture('watcher'), grants: { store: true, logging: true }, limits: { fuel: 1e10, timeoutMs: 5_000 }, startBlock: 0 };
    const configured = await startConfigured(
      EngineConfigSchema.parse({
        engine: { stateDir: mkdtempSync(join(tmpdir(), 'corral-metrics-')), logLevel: 'silent', metrics: '127.0.0.1:0' },
        chains: { 31337: { rpcUrl: 'anvil' } },
        modules: [
          { name: 'logs', ...watcher, triggers: [{ kind: 'log', chain: 31337, address: emitterAddress }] },
          { name: 'blocks', ...watcher, triggers: [{ kind: 'block', chain: 31337, every: 2 }] },
        ],
      }),
    );
    try {
      const { engine } = configured;
      const url = configured.metrics!.url;
      const emitter = await deployEmitter(configured.anvils['31337']!);
      let last = 0n;
      for (let i = 0; i < 5; i++) last = await emitter.emit(1, 2); // 2 Pings + 1 Pong each
      await Promise.all([engine.reached('logs', 31337, last), engine.reached('blocks', 31337, last)]);

      const response = await fetch(`${url}/metrics`);
      expect(response.headers.get('content-type')).toContain('text/plain');
      const m = parse(await response.text());
      const logs = engine.actors().find((a) => a.name === 'logs')!;
      expect(m.get('corral_chain_events_total{module="logs",chain="31337"}')).toBe(15);
      expect(m.get('corral_invocations_total{module="logs"}')).toBe(logs.invocations);
      expect(logs.invocations).toBeGreaterThan(0);
      expect(m.get('corral_invocation_duration_seconds_count{module="logs",outcome="ok"}')).toBe(logs.invocations);
      expect(m.get('corral_fuel_used_total{module="logs"}')).toBe(logs.fuelUsed.total);
      expect(m.get('corral_module_block{module="logs",chain="31337"}')).toBe(Number(last));
      expect(m.get('corral_chain_head{chain="31337"}')).toBeGreaterThanOrEqual(Number(last));
      expect(m.get('corral_bus_lag_blocks{module="logs",chain="31337"}')).toBe(m.get('corral_chain_head{chain="31337"}')! - Number(last));
      expect(m.get('corral_module_caught_up{module="logs",chain="31337"}')).toBe(1);
      expect(m.get('corral_breaker_state{module="logs"}')).toBe(0);
      expect(m.get('corral_store_bytes{module="logs"}')).toBe(engine.storedBytes().logs);
      expect(m.get('corral_pool_checkouts_total{module="logs",pool="events"}')).toBe(engine.poolStats().logs!.checkouts);
      const rpc = engine.rpcStats().chains['31337']!;
      expect(m.get('corral_rpc_calls_total{chain="31337",purpose="live",method="eth_getLogs"}')).toBe(rpc.live!.eth_getLogs!.calls);
      expect(m.get('corral_rpc_response_bytes_total{chain="31337",purpose="live",method="eth_getLogs"}')).toBe(rpc.live!.eth_getLogs!.bytes);

      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect((await fetch(`${url}/nope`)).status).toBe(404);
    } finally {
      await configured.stop();
    }
  });

  it('behavior: jobs: runs by outcome, skips, conflicts, rate-limited enqueues, pending and running tasks, run durations', async () => {
    const configured = await startConfigured(
      EngineConfigSchema.parse({
        engine: { stateDir: mkdtempSync(join(tmpdir(), 'corral-metrics-')), logLevel: 'silent', metrics: '127.0.0.1:0' },
        modules: [{ name: 'j', component: fixture('job-probe'), grants: { store: true, queue: true, http: { hosts: [] } }, topics: ['cmd'], jobs: { ratePerMinute: 3 } }],
      }),
    );
    try {
      const { engine } = configured;
      const enqueue = (payload: object, n: number, seq: number) => engine.deliver('j', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify({ op: 'enqueue', type: 'work', payload, n, opts: { maxRetry: 0 } }) } }, { seq });
      await enqueue({ op: 'count' }, 2, 1);
      await enqueue({ op: 'needs', key: 'never' }, 2, 2); // the first fails for good; the second is over the rate
      await engine.jobsSettled('j');
      const m = parse(await (await fetch(`${configured.metrics!.url}/metrics`)).text());
      expect(m.get('corral_jobs_total{module="j",outcome="done"}')).toBe(3); // module-activated and two counts
      expect(m.get('corral_jobs_total{module="j",outcome="dead"}')).toBe(1);
      expect(m.get('corral_jobs_total{module="j",outcome="retried"}')).toBe(0);
      expect(m.get('corral_queue_rate_limited_total{module="j"}')).toBe(1);
      expect(m.get('corral_jobs_pending{module="j"}')).toBe(0);
      expect(m.get('corral_jobs_running{module="j"}')).toBe(0);
      expect(m.get('corral_job_conflicts_total{module="j"}')).toBe(engine.jobStats('j').conflicts);
      expect(m.get('corral_job_duration_seconds_count{module="j"}')).toBe(3);
    } finally {
      await configured.stop();
    }
  });
});
