import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderStatus } from '../../src/cli/status.ts';
import { terminalSafe, terminalSafeJson } from '../../src/cli/terminalSafe.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { captureLogger, newRuntime } from '../helpers.ts';

const runtime = newRuntime({ threads: 1 });
afterAll(() => runtime.close());

/** What a guest put in its warnings to take over the terminal: window title, clear screen, cursor home, a fake status line, an 8-bit CSI, a bidi override. */
const hostile = ['watch: \x1b]0;pwned\x07', 'watch: \x1b[2J\x1b[H\x1b[32mall modules ok\x1b[0m', 'watch: \r\x08\x08fake', 'watch: \u009b31m red \u202e gnp.exe'];
/** Every character a terminal acts on; line feeds are the status's own line breaks. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('guest text on the terminal', () => {
  it('behavior: the live status shows a guest warning with ESC, BEL, CSI and CR as escapes: no control character reaches the terminal', async () => {
    const engine = await Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-status-')), logger: captureLogger().logger, modules: [] });
    try {
      const text = renderStatus(engine, { config: 'engine.toml', startedAt: 0, now: 0, anvils: {}, logFile: 'corral.log', warnings: hostile });
      expect(CONTROL.test(text)).toBe(false);
      expect(text).toContain('watch: \\u001b]0;pwned\\u0007');
      expect(text.split('\n').filter((l) => l.includes('all modules ok'))).toHaveLength(1); // drawn where the warning is, as text
    } finally {
      await engine.stop();
    }
  });

  it('default: terminalSafe escapes every control character and keeps the rest; terminalSafeJson keeps the JSON value', () => {
    expect(terminalSafe('ok é ✓ \x1b[2J\n')).toBe('ok é ✓ \\u001b[2J\\u000a');
    const json = JSON.stringify({ message: hostile.join('\n') }, null, 2);
    const safe = terminalSafeJson(json);
    expect(CONTROL.test(safe.replace(/\n/g, ''))).toBe(false);
    expect(JSON.parse(safe)).toEqual(JSON.parse(json));
  });
});
