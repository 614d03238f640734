import { constExpression } from './sections.ts';
import { Reader } from './wasmBytes.ts';

/** What a core module declares of tables and memory: what V8 allocates for them when it instantiates the module. */
export interface TableFacts {
  /** Initial pages of the memories the module defines (imported memories belong to their owner). */
  definedPages: number;
  /** Whether one of its tables is 64-bit (table64 of memory64), which the meter does not support. */
  table64: boolean;
  /** Initial entries of the tables the module defines, summed (imported tables belong to their owner). */
  definedElements: number;
  /** Items of its longest active or passive element segment (declarative ones are only declarations). */
  longestSegment: number;
}

const TABLE = 4;
const MEMORY = 5;
const ELEMENT = 9;

/**
 * Reads a compiled (so valid) core module's table, memory and element sections, for the worker to
 * refuse a module over the component instance's budget before V8 allocates its tables and memory. What this reader does not know (typed
 * references, constant expressions of newer proposals, which Node 20 does not run by default) ends the
 * scan of that section: what was read so far is returned, and the gate on growth still holds.
 */
export function tableFacts(bytes: Uint8Array): TableFacts {
  const facts: TableFacts = { definedPages: 0, table64: false, definedElements: 0, longestSegment: 0 };
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const id = r.u8();
    const size = r.u32();
    const end = r.pos + size;
    try {
      if (id === TABLE) readTables(new Reader(bytes, r.pos, end), facts);
      else if (id === MEMORY) readMemories(new Reader(bytes, r.pos, end), facts);
      else if (id === ELEMENT) readSegments(new Reader(bytes, r.pos, end), facts);
    } catch {
      // Something this reader does not know (see above).
    }
    r.pos = end;
  }
  return facts;
}

function readTables(r: Reader, facts: TableFacts): void {
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const withInit = r.bytes[r.pos] === 0x40;
    if (withInit) r.skip(2);
    r.s33(); // reference type
    const flags = r.u8();
    if (flags & 4) facts.table64 = true;
    facts.definedElements += r.u32();
    if (flags & 1) r.u32();
    if (withInit) constExpression(r, null, null);
  }
}

function readMemories(r: Reader, facts: TableFacts): void {
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    facts.definedPages += r.u32();
    if (flags & 1) r.u32();
  }
}

function readSegments(r: Reader, facts: TableFacts): void {
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const flags = r.u32();
    if (flags === 2 || flags === 6) r.u32(); // table
    if ((flags & 1) === 0) constExpression(r, null, null); // active: offset
    if (flags & 3) r.s33(); // elemkind or reference type
    const items = r.u32();
    if (flags !== 3 && flags !== 7) facts.longestSegment = Math.max(facts.longestSegment, items);
    for (let j = 0; j < items; j++) {
      if (flags & 4) constExpression(r, null, null);
      else r.u32();
    }
  }
}
