/**
 * Characters a terminal acts on instead of showing: C0 controls (ESC starts every escape sequence,
 * BEL, CR, backspace…), DEL, C1 controls (U+009B is a one-character CSI on many terminals), and the
 * Unicode bidirectional overrides that reorder what is shown. Line breaks are among them: one piece of
 * guest text is one line on screen.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * Text a guest had a hand in (its log messages, trap and error messages, its output), made safe to
 * write to the operator's terminal: every control character shown as a `\uXXXX` escape, so a guest
 * can neither set the window title, clear the screen, move the cursor nor draw a line of its own.
 * Use it on every such string before it reaches stdout or stderr (`terminalSafeJson` for JSON text).
 *
 * @example
 * terminalSafe('ok\x1b]0;pwned\x07') // 'ok\\u001b]0;pwned\\u0007'
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** What JSON.stringify leaves raw of UNSAFE: it escapes C0 itself, and raw line breaks are indentation. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * A JSON text (indented or not) safe on a terminal: the same JSON value, with what JSON.stringify
 * leaves raw (DEL, C1 controls, bidi overrides) escaped as `\uXXXX` inside its strings.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, escape);
}
