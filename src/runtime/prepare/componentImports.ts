import { Reader } from '../fuel/wasmBytes.ts';

/**
 * The names a component imports at its top level, as written in its binary: `wasi:io/poll@0.2.12`,
 * version included. jco's glue strips versions from import names, so this is where the runtime learns
 * which WASI version a component was built against. Reads only the import sections (id 10) of the
 * outer component; nested components' imports are satisfied inside it. Expects bytes that passed
 * `validateComponentBytes` (sections are in bounds); a malformed import section is reported as such.
 * Runs on the main thread, in `Runtime.load`, before the bytes go to the prepare thread.
 */
export function componentImportNames(bytes: Uint8Array): string[] {
  const names: string[] = [];
  const reader = new Reader(bytes, 8);
  while (reader.pos < bytes.length) {
    const id = reader.u8();
    const size = reader.u32();
    const end = reader.pos + size;
    if (id === IMPORT_SECTION) {
      const count = reader.u32();
      for (let i = 0; i < count; i++) {
        // 0x00 is a plain name; 0x01 the older "interface" name form (wasm-tools still reads it the
        // same way: one string, the version inside it).
        const kind = reader.u8();
        if (kind !== 0x00 && kind !== 0x01) throw new Error(`import ${i}: unknown name kind 0x${kind.toString(16)}`);
        names.push(reader.name());
        skipExternDesc(reader);
      }
    }
    reader.pos = end;
  }
  return names;
}

const IMPORT_SECTION = 10;

function skipExternDesc(reader: Reader): void {
  const sort = reader.u8();
  switch (sort) {
    case 0x00: // core module: 0x11 typeidx
      reader.u8();
      reader.u32();
      return;
    case 0x01: // func
    case 0x04: // component
    case 0x05: // instance
      reader.u32();
      return;
    case 0x02: // value: 0x00 valueidx | 0x01 valtype (an s33: a type index or a primitive)
    case 0x03: // type: 0x00 typeidx (eq) | 0x01 (sub resource)
      if (reader.u8() === 0x00 || sort === 0x02) reader.u32();
      return;
    default:
      throw new Error(`unknown extern kind 0x${sort.toString(16)}`);
  }
}
