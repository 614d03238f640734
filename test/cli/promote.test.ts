/**
 * `corral promote` as an operator drives it: `corral run` on an engine.toml with a shadow candidate and
 * the read API enabled, in its own process, then the CLI against it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startConfigured } from '../../src/app/startConfigured.ts';
import { EngineConfigSchema } from '../../src/config/EngineConfig.ts';
import { fixture } from '../helpers.ts';

const bin = fileURLToPath(new URL('../../bin/corral.mjs', import.meta.url));
const TOKEN = 'promote-token';
const env = { ...process.env, CORRAL_CACHE_DIR: process.env.CORRAL_TEST_CACHE_DIR, CORRAL_API_TOKEN: TOKEN };
type Line = Record<string, unknown>;

/** `corral run` in its own process; resolves with the first log line that passes `test`. */
function corralRun(config: string) {
  const child: ChildProcess = spawn(process.execPath, [bin, 'run', config, '--json'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
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
    exited,
    waitFor: (test: (l: Line) => boolean) =>
      new Promise<Line>((resolve, reject) => {
        const seen = lines.find(test);
        if (seen) return resolve(seen);
        waiters.push({ test, resolve });
        void exited.then((code) => reject(new Error(`corral run exited (${code}) first; last lines: ${JSON.stringify(lines.slice(-3))}`)));
      }),
    stop: () => child.kill('SIGTERM'),
  };
}

/** One CLI command to its end: exit code, stdout and stderr. */
function corral(args: string[], extraEnv: Record<string, string | undefined> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('corral promote', () => {
  it('behavior: promotes a running engine\'s shadow candidate through its read API; a wrong token, a GET and a second promote (no candidate left) are refused and change nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-promote-cli-'));
    const config = join(dir, 'engine.toml');
    writeFileSync(
      config,
      `[engine]
state_dir = "state"
metrics = "127.0.0.1:0"
[engine.api]
enabled = true
[[modules]]
name = "counter"
component = "${fixture('counter')}"
grants = { store = true, logging = true }
topics = ["cmd"]
[modules.shadow]
component = "${fixture('counter-v2')}"
`,
    );
    const run = corralRun(config);
    try {
      const served = await run.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('metrics served at'));
      const url = served.url as string;
      await run.waitFor((l) => l.msg === 'engine running');

      const wrongToken = await corral(['promote', 'counter', '--url', url], { CORRAL_API_TOKEN: 'not-it' });
      expect(wrongToken.code).toBe(1);
      expect(wrongToken.stderr).toContain('401');
      const get = await fetch(`${url}/v1/modules/counter/promote`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
      const unknown = await corral(['promote', 'nobody', '--url', url]);
      expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('no module named nobody')]);

      // Found from an engine.toml as an operator's would name it: its metrics address (any host: asked on
      // loopback) and its token_env.
      const cliConfig = join(dir, 'cli.toml');
      writeFileSync(cliConfig, `[engine]\nmetrics = "0.0.0.0:${new URL(url).port}"\n[engine.api]\nenabled = true\ntoken_env = "PROMOTE_TOKEN"\n`);
      const promoted = await corral(['promote', 'counter', cliConfig], { CORRAL_API_TOKEN: undefined, PROMOTE_TOKEN: TOKEN });
      expect([promoted.code, promoted.stderr]).toEqual([0, '']);
      expect(promoted.stdout).toBe('counter: the shadow candidate serves now\n');
      // The candidate is the module now, without a shadow of its own: there is nothing left to promote.
      const again = await corral(['promote', 'counter', '--url', url]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('no [modules.shadow] candidate');
      const module = (await (await fetch(`${url}/v1/modules/counter`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { status: string };
      expect(module.status).toBe('serving');
    } finally {
      run.stop();
      expect(await run.exited).toBe(0);
    }
  }, 60_000);

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  it.skipIf(external === undefined)(`error: promote answers loopback peers only, even with allow_remote, where reads are served (reached via ${external ?? 'no non-loopback IPv4 address: skipped'})`, async () => {
    const configured = await startConfigured(
      EngineConfigSchema.parse({
        engine: { stateDir: mkdtempSync(join(tmpdir(), 'corral-promote-remote-')), logLevel: 'silent', metrics: '0.0.0.0:0', api: { enabled: true, allowRemote: true } },
        modules: [{ name: 'counter', component: fixture('counter'), grants: { store: true, logging: true }, topics: ['cmd'], shadow: { component: fixture('counter-v2') } }],
      }),
      { env: { CORRAL_API_TOKEN: TOKEN } },
    );
    try {
      const port = new URL(configured.metrics!.url).port;
      const headers = { authorization: `Bearer ${TOKEN}` };
      expect((await fetch(`http://${external}:${port}/v1/modules/counter`, { headers })).status).toBe(200);
      const remote = await fetch(`http://${external}:${port}/v1/modules/counter/promote`, { method: 'POST', headers });
      expect([remote.status, ((await remote.json()) as { error: { code: string } }).error.code]).toEqual([403, 'forbidden']);
      expect(configured.engine.shadowReport('counter')).toBeDefined();
      const local = await fetch(`http://127.0.0.1:${port}/v1/modules/counter/promote`, { method: 'POST', headers });
      expect([local.status, await local.json()]).toEqual([200, { module: 'counter', migrated: false }]);
      expect(configured.engine.shadowReport('counter')).toBeUndefined();
    } finally {
      await configured.stop();
    }
  });
});
