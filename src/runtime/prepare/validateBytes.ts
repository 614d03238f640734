import { LoadError } from '../../errors/LoadError.ts';

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
/** Component binaries: version 0x0d, layer 1 (the encoding since the component model's 2023 freeze). */
const COMPONENT_VERSION = 0x0d;
const COMPONENT_LAYER = 1;

/**
 * The cheap structural checks that come before handing bytes to the toolchain, so the common
 * mistakes get an error that says what is wrong instead of a parser's complaint:
 * not wasm at all, a core module where a component belongs, an unknown encoding, truncation.
 * Runs on the main thread, in `Runtime.load`, before the bytes go to the prepare thread.
 */
export function validateComponentBytes(bytes: Uint8Array, source: string): void {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    const what = bytes.length === 0 ? 'the file is empty' : 'it does not start with the `\\0asm` magic';
    throw new LoadError('not-wasm', `${source} is not WebAssembly: ${what}`, { source, length: bytes.length });
  }
  const version = bytes[4]! | (bytes[5]! << 8);
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 0 && version === 1) {
    throw new LoadError(
      'core-module',
      `${source} is a core module, not a component: wrap it with \`jco new\` (or \`wasm-tools component new\`)`,
      { source },
    );
  }
  if (layer !== COMPONENT_LAYER || version !== COMPONENT_VERSION) {
    throw new LoadError(
      'unsupported-version',
      `${source} has binary version ${version}, layer ${layer}; this runtime reads components of version ${COMPONENT_VERSION}, layer ${COMPONENT_LAYER}`,
      { source, version, layer },
    );
  }
  walkSections(bytes, source);
}

function walkSections(bytes: Uint8Array, source: string): void {
  let offset = 8;
  while (offset < bytes.length) {
    const sectionStart = offset;
    offset += 1; // section id
    const size = readU32Leb(bytes, offset);
    if (size === null) {
      throw truncated(source, bytes.length, sectionStart, 'the size of a section');
    }
    offset = size.next + size.value;
    if (offset > bytes.length) {
      throw truncated(source, bytes.length, sectionStart, `a section of ${size.value} bytes`);
    }
  }
}

function truncated(source: string, length: number, at: number, what: string): LoadError {
  return new LoadError('truncated', `${source} is truncated: ${what} at byte ${at} runs past the end (${length} bytes)`, {
    source,
    length,
    offset: at,
  });
}

function readU32Leb(bytes: Uint8Array, offset: number): { value: number; next: number } | null {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (offset >= bytes.length) return null;
    const byte = bytes[offset++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return { value, next: offset };
  }
  return null;
}
