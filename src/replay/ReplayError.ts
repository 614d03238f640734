import { CorralError } from '../errors/CorralError.ts';

export type ReplayErrorCode =
  | 'not-a-recording' // the file is not a corral recording (details: line)
  | 'unknown-component' // --component names a component the recording does not have
  | 'component-unknown' // the recording does not say where a component came from
  | 'component-missing' // the recorded component file cannot be read
  | 'component-changed' // the recorded component file is not the one recorded (sha256)
  | 'component-refused' // the recorded component path is not a regular file, or larger than MAX_COMPONENT_BYTES (details: path, reason)
  | 'recording-refused' // the recording is not a regular file, or larger than MAX_RECORDING_BYTES (details: source, reason)
  | 'line-too-long' // a line of the recording is longer than MAX_RECORDING_LINE_BYTES (details: source, line, limitBytes)
  | 'recording-unwritable'; // a Recorder's file cannot be written

/** A recording that cannot be written or replayed as asked. Nothing was compared. */
export class ReplayError extends CorralError<ReplayErrorCode> {
  override readonly name = 'ReplayError';

  constructor(code: ReplayErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(code, message, details, cause);
  }
}
