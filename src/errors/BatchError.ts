import { CorralError } from './CorralError.ts';

export type BatchErrorCode =
  | 'bad-input' // an input is not an argument list the export takes (details.index, details.line when read from a file)
  | 'input-refused' // the runtime refused an input's call before any guest code ran (details.index; cause: the CorralRuntimeError)
  | 'inputs-changed' // --resume: an input's sha256 differs from the one its recorded result carries (details.index, details.line)
  | 'bad-output' // --resume: the output or its sidecar holds a line that is no batch result (details.file, details.line)
  | 'resume-mismatch' // --resume: the output was written by another component, export, inputs file or limits (details.field, details.recorded, details.given)
  | 'invalid-option'; // an option of the batch is out of range or missing (details.option)

/** A batch that cannot go on. Results already written stay; `--resume` picks up after them. */
export class BatchError extends CorralError<BatchErrorCode> {
  override readonly name = 'BatchError';

  constructor(code: BatchErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(code, message, details, cause);
  }
}
