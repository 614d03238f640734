import type { Logger } from 'pino';
import type { SupervisorSignal } from '../supervisor/SupervisorSignal.ts';

/**
 * One log record per supervisor signal, failures and quarantines as warnings, recoveries as info: an
 * operator must see why a module keeps failing, not only counts.
 */
export function logSignal(logger: Logger, s: SupervisorSignal): void {
  const { type, actor, at: _at, ...rest } = s as SupervisorSignal & Record<string, unknown>;
  if ('signal' in s) {
    const data = s.signal.toData() as unknown as Record<string, unknown>;
    const { component: _c, exportName: _e, signal: _s, ...fields } = data;
    logger.warn({ module: actor, signal: type, ...fields }, `${actor}: ${s.signal.message}`);
    return;
  }
  const level = type === 'Quarantined' || type === 'ReachedMaxRestartIntensity' || type === 'ReorgBeyondWindow' ? 'warn' : 'info';
  logger[level]({ module: actor, supervisor: type, ...rest }, `${actor}: ${type}`);
}
