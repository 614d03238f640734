/** `corral run` (imported when the command runs: it loads the whole engine). */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../config/loadConfig.ts';
import { startConfigured } from '../app/startConfigured.ts';
import { MAX_TIMER_DELAY_MS } from '../limits/defaults.ts';
import { Recorder } from '../replay/Recorder.ts';
import { renderStatus } from './status.ts';
import { EXIT_FORCED, EXIT_OK, reportFailure } from './commandOutput.ts';

/**
 * Runs the engine until SIGINT/SIGTERM, then stops it gracefully; a second signal forces the exit. On a
 * terminal (unless `--json`) it draws a live status and writes the logs to `<state_dir>/corral.log`;
 * otherwise the logs are pino JSON lines on stdout.
 */
export async function run(file: string, flags: { json?: boolean; record?: string }): Promise<number> {
  const live = process.stdout.isTTY === true && !flags.json;
  // Signals are heard from the start: one during start-up stops the engine as soon as it is up.
  let signalled: NodeJS.Signals | undefined;
  let onSignal: ((signal: NodeJS.Signals) => void) | undefined;
  const listener = (signal: NodeJS.Signals) => {
    if (signalled) return force(signal);
    signalled = signal;
    onSignal?.(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  let stopAnvils: () => void = () => {};
  const force = (signal: NodeJS.Signals) => {
    process.stderr.write(`corral: ${signal} again: forced to stop\n`);
    stopAnvils();
    process.exit(EXIT_FORCED);
  };
  let configured;
  let stopRecording: () => Promise<void> = () => Promise.resolve();
  const warnings: string[] = [];
  let logFile = '';
  let chains: string[] = [];
  try {
    const { config } = await loadConfig(file);
    chains = Object.keys(config.chains);
    let logger: Logger | undefined;
    if (live) {
      logFile = join(config.engine.stateDir, 'corral.log');
      const recent = new Writable({
        write(chunk: Buffer, _encoding, done) {
          const record = JSON.parse(chunk.toString()) as { time?: number; msg?: string; module?: string; err?: { message?: string } };
          warnings.push(`${new Date(record.time ?? Date.now()).toISOString().slice(11, 19)} ${record.module ? `${record.module}: ` : ''}${record.msg ?? ''}${record.err?.message ? ` (${record.err.message})` : ''}`);
          if (warnings.length > 5) warnings.shift();
          done();
        },
      });
      const level = config.engine.logLevel;
      logger = pino({ name: 'corral', level }, pino.multistream([{ level: level === 'silent' ? 'fatal' : level, stream: pino.destination({ dest: logFile, mkdir: true, sync: false }) }, { level: 'warn', stream: recent }]));
    }
    // A recording is appended as the engine runs; it is closed once the engine has stopped.
    const record = flags.record ? new Recorder({ file: flags.record }) : undefined;
    configured = await startConfigured(config, { ...(logger ? { logger } : {}), ...(record ? { record } : {}) });
    stopRecording = () => record?.close() ?? Promise.resolve();
  } catch (error) {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
    return reportFailure(error);
  }
  const anvils = Object.values(configured.anvils);
  stopAnvils = () => anvils.forEach((a) => a.kill());
  const { engine, logger } = configured;
  const startedAt = Date.now();
  // On PostgreSQL, who owns what is read from the store between draws (a draw itself never waits).
  let ownership: Awaited<ReturnType<typeof engine.ownership>> | undefined;
  const draw = () => {
    if (engine.replica()) void engine.ownership().then((o) => (ownership = o), () => undefined);
    process.stdout.write(
      `\x1b[H\x1b[2J${renderStatus(engine, { config: file, startedAt, now: Date.now(), anvils: Object.fromEntries(Object.entries(configured.anvils).map(([id, a]) => [id, a.url])), logFile, warnings, metricsUrl: configured.metrics?.url, ownership })}`,
    );
  };
  const redraw = live ? setInterval(draw, 1_000) : undefined;
  if (live) draw();
  logger.info({ modules: [...engine.actors().map((a) => a.name)], chains }, 'engine running');
  // A signal listener does not keep Node's event loop alive: with no chain, cron or timer to hold it,
  // the wait below would be an unsettled top-level await and Node would exit with code 13 at once.
  // The engine still serves custom events and metrics, so the process stays until a signal.
  const keepAlive = setInterval(() => {}, MAX_TIMER_DELAY_MS);
  const signal = signalled ?? (await new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve)));
  clearInterval(keepAlive);
  logger.info({ signal }, 'stopping: intake closed, in-flight events finish or are cancelled, then the database closes (a second signal forces)');
  await configured.stop(); // a second signal exits from `force` meanwhile
  await stopRecording();
  logger.info({ code: EXIT_OK }, 'stopped');
  if (redraw) {
    clearInterval(redraw);
    process.stdout.write('stopped\n');
  }
  process.off('SIGINT', listener);
  process.off('SIGTERM', listener);
  return EXIT_OK;
}
