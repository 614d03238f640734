import { LoadError } from '../../errors/LoadError.ts';
import { MalformedBytes, Reader } from '../fuel/wasmBytes.ts';

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
  const reader = new Reader(bytes, 8);
  while (reader.pos < bytes.length) {
    const sectionStart = reader.pos;
    reader.u8(); // section id
    let size: number;
    try {
      size = reader.u32();
    } catch (error) {
      if (error instanceof MalformedBytes) throw truncated(source, bytes.length, sectionStart, 'the size of a section');
      throw error;
    }
    const end = reader.pos + size;
    if (end > bytes.length) {
      throw truncated(source, bytes.length, sectionStart, `a section of ${size} bytes`);
    }
    reader.pos = end;
  }
}

function truncated(source: string, length: number, at: number, what: string): LoadError {
  return new LoadError('truncated', `${source} is truncated: ${what} at byte ${at} runs past the end (${length} bytes)`, {
    source,
    length,
    offset: at,
  });
}
