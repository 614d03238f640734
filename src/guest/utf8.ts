// QuickJS inside componentize-qjs has no TextEncoder or TextDecoder: these use them where they exist
// (a test in Node) and otherwise the engine's own URI functions, which turn a string into UTF-8 without
// a JavaScript loop over its characters.

/** `text` as UTF-8 bytes. */
export function utf8(text: string): Uint8Array {
  if (typeof TextEncoder === 'function') return new TextEncoder().encode(text);
  return Uint8Array.from(unescape(encodeURIComponent(text)), byteOf);
}

/** UTF-8 bytes as text; an invalid sequence throws (URIError) rather than turning into U+FFFD. */
export function text(bytes: Uint8Array): string {
  if (typeof TextDecoder === 'function') return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  let latin1 = '';
  // Chunks: String.fromCharCode takes its arguments on the stack.
  for (let at = 0; at < bytes.length; at += 8192) latin1 += String.fromCharCode.apply(null, bytes.subarray(at, at + 8192) as unknown as number[]);
  return decodeURIComponent(escape(latin1));
}

function byteOf(char: string): number {
  return char.charCodeAt(0);
}
