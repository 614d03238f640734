/**
 * `text` cut to at most `maxBytes` of UTF-8 (at a character boundary), ending with how many bytes
 * were cut; `text` itself when it fits.
 */
export function boundText(text: string, maxBytes: number): string {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return text;
  const encoded = Buffer.from(text, 'utf8');
  const note = (cut: number) => `… (${cut} bytes cut)`;
  let end = Math.max(0, maxBytes - Buffer.byteLength(note(bytes), 'utf8'));
  while (end > 0 && (encoded[end]! & 0xc0) === 0x80) end--; // not inside a character
  return `${encoded.subarray(0, end).toString('utf8')}${note(bytes - end)}`;
}
