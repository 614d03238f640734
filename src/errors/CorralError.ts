/**
 * Base of corral's errors (as opposed to signals, which end one invocation of a guest), after viem's
 * `BaseError`: `code` is stable and meant for programs; `shortMessage` is one line for people;
 * `details` holds the typed fields that say what and where (a module, a chain, a key path); `cause`
 * chains to what went wrong underneath, and `walk()` follows it. `message` is the short message
 * followed by the causes' messages, so a log line tells the whole story.
 *
 * @example
 * try { await engine.start() } catch (e) {
 *   if (e instanceof CorralError) console.log(e.code, e.details, e.walk().message);
 * }
 */
export abstract class CorralError<Code extends string = string, Details extends object = Readonly<Record<string, unknown>>> extends Error {
  abstract override readonly name: string;
  readonly code: Code;
  readonly shortMessage: string;
  readonly details: Details;

  protected constructor(code: Code, shortMessage: string, details: Details = {} as Details, cause?: unknown) {
    super(withCauses(shortMessage, cause), cause === undefined ? undefined : { cause });
    this.code = code;
    this.shortMessage = shortMessage;
    this.details = details;
  }

  /** The innermost cause (or the first one `stop` accepts), following `cause` links. */
  walk(stop?: (error: unknown) => boolean): unknown {
    let current: unknown = this;
    for (let depth = 0; depth < 32; depth++) {
      if (stop?.(current)) return current;
      const next = (current as { cause?: unknown } | null)?.cause;
      if (next === undefined || next === null) return stop ? null : current;
      current = next;
    }
    return stop ? null : current;
  }

  /** Plain data for logs and JSON output: name, code, short message, details and the cause chain. */
  toJSON(): Record<string, unknown> {
    const cause = (this as { cause?: unknown }).cause;
    return {
      name: this.name,
      code: this.code,
      message: this.shortMessage,
      details: this.details,
      ...(cause === undefined ? {} : { cause: cause instanceof CorralError ? cause.toJSON() : describe(cause) }),
    };
  }
}

function withCauses(shortMessage: string, cause: unknown): string {
  if (cause === undefined || cause === null) return shortMessage;
  const inner = cause instanceof CorralError ? cause.message : cause instanceof Error ? (cause as { shortMessage?: string }).shortMessage ?? cause.message : String(cause);
  return inner && !shortMessage.includes(inner) ? `${shortMessage}: ${inner}` : shortMessage;
}

function describe(cause: unknown): unknown {
  if (cause instanceof Error) return { name: cause.name, message: (cause as { shortMessage?: string }).shortMessage ?? cause.message };
  return cause;
}
