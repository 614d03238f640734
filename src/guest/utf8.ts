import './text-encoding.ts';

/** `text` as UTF-8 bytes. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** UTF-8 bytes as text; an invalid sequence throws rather than turning into U+FFFD. */
export function text(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}
