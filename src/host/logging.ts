import type * as Logging from './generated/corral-module-logging.js';
import type { HostImplementation } from './HostImplementation.ts';
import type { InvocationScope } from './InvocationScope.ts';
import type { GuestOutput } from '../wasi/WasiConfig.ts';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error']);

/**
 * `corral:module/logging`: structured records through the invocation's pino child logger (module,
 * event and invocation are already bound). `fields-json` is merged in when it is a JSON object, kept
 * as `fieldsRaw` when it is not. Counts toward `logRecords` and `logBytes`.
 */
export function loggingHost(scope: InvocationScope): HostImplementation<typeof Logging> {
  return {
    log(level: Logging.Level, message: string, fieldsJson: string): void {
      scope.charge('logRecords');
      scope.charge('logBytes', Buffer.byteLength(message) + Buffer.byteLength(fieldsJson));
      let fields: Record<string, unknown> = {};
      if (fieldsJson) {
        try {
          const parsed: unknown = JSON.parse(fieldsJson);
          fields = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? { fields: parsed } : { fields: { value: parsed } };
        } catch {
          fields = { fieldsRaw: fieldsJson };
        }
      }
      const method = LEVELS.has(level) ? level : 'info';
      scope.logger[method]({ guest: true, ...fields }, message);
    },
  };
}

/**
 * What a WASI module wrote to stdout (an `info` record) and stderr (a `warn` record) during one
 * invocation, bound like its other records. The runtime already kept at most `logBytes` of each.
 */
export function logGuestOutput(scope: InvocationScope, output: GuestOutput | undefined): void {
  if (!output) return;
  const extra = output.truncated ? { truncated: true } : {};
  if (output.stdout) scope.logger.info({ guest: true, stream: 'stdout', ...extra }, output.stdout.trimEnd());
  if (output.stderr) scope.logger.warn({ guest: true, stream: 'stderr', ...extra }, output.stderr.trimEnd());
}
