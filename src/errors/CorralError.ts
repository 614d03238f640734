/**
 * Base of corral's errors (as opposed to signals, which end one invocation of a guest).
 * `code` is stable and meant for programs; `message` is for people; `details` says where.
 */
export abstract class CorralError<Code extends string = string> extends Error {
  abstract override readonly name: string;
  readonly code: Code;
  readonly details: Readonly<Record<string, unknown>>;

  protected constructor(code: Code, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.details = details;
  }
}
