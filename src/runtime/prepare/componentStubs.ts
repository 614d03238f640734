import { Reader, Writer, writeSection } from '../fuel/wasmBytes.ts';

/*
 * A copy of a component whose core modules keep their interface and nothing of their contents: each
 * function body is `unreachable`, and data, element and custom sections are gone. The glue generator
 * only needs the modules' types, imports and exports, and gets through such a copy in a fraction of
 * the time (see transpileComponent.ts).
 */

/** Names the custom section, appended to each stub, that says which module it stands for. */
const MARKER = 'corral-stub';
/** A function body with no locals that traps: valid for any signature. */
const STUB_BODY = [3, 0x00, 0x00, 0x0b];
/** Custom, element, data and data count sections: the glue does not depend on them. */
const DROPPED_SECTIONS = new Set([0, 9, 11, 12]);

export interface StubbedComponent {
  bytes: Uint8Array;
  /** Each stubbed module (by the index in its marker) and the stub it was replaced with. */
  originals: Map<number, { module: Uint8Array; stub: Uint8Array }>;
}

/** The component with its core modules stubbed, or null if it cannot be parsed here. */
export function stubCoreModules(component: Uint8Array): StubbedComponent | null {
  const originals: StubbedComponent['originals'] = new Map();
  try {
    return { bytes: stubComponent(component, originals), originals };
  } catch {
    return null;
  }
}

/** The index a stub's marker holds, or -1 when the module has no marker. */
export function stubIndex(module: Uint8Array): number {
  try {
    const r = new Reader(module, 8);
    let index = -1;
    while (r.pos < module.length) {
      const id = r.u8();
      const end = r.u32() + r.pos;
      if (id === 0 && r.name() === MARKER) index = r.u32();
      r.pos = end;
    }
    return index;
  } catch {
    return -1;
  }
}

function stubComponent(component: Uint8Array, originals: StubbedComponent['originals']): Uint8Array {
  if (!hasHeader(component, [0x0d, 0x00, 0x01, 0x00])) throw new Error('not a component');
  const out = new Writer(component.length);
  out.bytes(component, 0, 8);
  const r = new Reader(component, 8);
  while (r.pos < component.length) {
    const sectionStart = r.pos;
    const id = r.u8();
    const size = r.u32();
    const start = r.pos;
    r.skip(size);
    if (id === 1) {
      const module = component.subarray(start, r.pos);
      const stub = stubModule(module, originals.size);
      originals.set(originals.size, { module, stub });
      writeSection(out, 1, stub);
    } else if (id === 4) {
      writeSection(out, 4, stubComponent(component.subarray(start, r.pos), originals));
    } else {
      out.bytes(component, sectionStart, r.pos);
    }
  }
  return out.view().slice();
}

function stubModule(module: Uint8Array, index: number): Uint8Array {
  if (!hasHeader(module, [0x01, 0x00, 0x00, 0x00])) throw new Error('not a core module');
  const out = new Writer(module.length);
  out.bytes(module, 0, 8);
  const r = new Reader(module, 8);
  while (r.pos < module.length) {
    const sectionStart = r.pos;
    const id = r.u8();
    const size = r.u32();
    const start = r.pos;
    r.skip(size);
    if (DROPPED_SECTIONS.has(id)) continue;
    if (id !== 10) {
      out.bytes(module, sectionStart, r.pos);
      continue;
    }
    const count = new Reader(module, start, r.pos).u32();
    const code = new Writer(count * STUB_BODY.length + 5);
    code.u32(count);
    for (let i = 0; i < count; i++) for (const b of STUB_BODY) code.byte(b);
    writeSection(out, 10, code.view());
  }
  const marker = new Writer(32);
  marker.name(MARKER);
  marker.u32(index);
  writeSection(out, 0, marker.view());
  return out.view().slice();
}

function hasHeader(bytes: Uint8Array, version: number[]): boolean {
  const magic = [0x00, 0x61, 0x73, 0x6d];
  return bytes.length >= 8 && magic.every((b, i) => bytes[i] === b) && version.every((b, i) => bytes[4 + i] === b);
}
