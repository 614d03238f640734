import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LAYERS, layeringProblems } from './importGraph.ts';

// The import rule (LAYERS in importGraph.ts, top to bottom): a file imports its own folder or a folder
// further down, never one above or beside it, and no chain of imports comes back to where it started.
// A failure names the files: change that import (move the shared piece down, or invert it behind an
// interface the lower layer owns, as runtime/CallJournal.ts does for the replay recorder).

const SRC = join(import.meta.dirname, '../../src');

describe('layering', () => {
  it('default: nothing in src/ imports upward and no imports form a cycle', () => {
    expect(layeringProblems(SRC)).toEqual([]);
  });

  it('default: every folder of src/ (and index.ts) has its place in LAYERS, imported or not', () => {
    const placed = new Set(LAYERS.flat());
    const entries = readdirSync(SRC, { withFileTypes: true }).filter((entry) => entry.isDirectory() || /\.(ts|mts|mjs)$/.test(entry.name));
    expect(entries.map((entry) => entry.name).filter((name) => !placed.has(name))).toEqual([]);
  });
});

describe('layering: the check itself', () => {
  let copy: string | null = null;
  afterEach(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
    copy = null;
  });

  /** A copy of src/ to break on purpose, with the problems it had before (if any) to tell apart. */
  function copyOfSrc(): { src: string; before: Set<string> } {
    copy = mkdtempSync(join(tmpdir(), 'corral-layering-'));
    const src = join(copy, 'src');
    cpSync(SRC, src, { recursive: true });
    return { src, before: new Set(layeringProblems(src)) };
  }

  it('error: an upward import added on purpose is reported, naming the importing file and the imported one', () => {
    const { src, before } = copyOfSrc();
    // A new file with no imports of its own, so the upward arrow closes no cycle and is the one problem added.
    writeFileSync(join(src, 'engine/addedOnPurpose.ts'), 'export const ADDED = 1;\n');
    appendFileSync(join(src, 'signals/OutOfFuel.ts'), "\nimport { ADDED } from '../engine/addedOnPurpose.ts';\n");
    const added = layeringProblems(src).filter((problem) => !before.has(problem));
    expect(added).toEqual(['upward import: src/signals/OutOfFuel.ts imports src/engine/addedOnPurpose.ts (signals/ may not import engine/, which is above it or beside it in LAYERS)']);
  });

  it('error: an import between peers on one line of LAYERS is reported as well', () => {
    const { src, before } = copyOfSrc();
    appendFileSync(join(src, 'limits/defaults.ts'), "\nimport type { Clock } from '../clock/Clock.ts';\n");
    const added = layeringProblems(src).filter((problem) => !before.has(problem));
    expect(added).toEqual(['upward import: src/limits/defaults.ts imports src/clock/Clock.ts (limits/ may not import clock/, which is above it or beside it in LAYERS)']);
  });

  it('error: a cycle added on purpose inside one folder is reported as the chain of imports that closes it', () => {
    const { src, before } = copyOfSrc();
    // RuntimeError.ts imports CorralError.ts; importing it back closes a cycle with no upward arrow.
    appendFileSync(join(src, 'errors/CorralError.ts'), "\nexport { CorralRuntimeError } from './RuntimeError.ts';\n");
    const added = layeringProblems(src).filter((problem) => !before.has(problem));
    expect(added).toEqual(['import cycle: src/errors/CorralError.ts → src/errors/RuntimeError.ts → src/errors/CorralError.ts']);
  });

  it('error: a dynamic import counts, and a folder missing from LAYERS is named', () => {
    const { src } = copyOfSrc();
    appendFileSync(join(src, 'clock/Clock.ts'), "\nexport const later = () => import('../newplace/thing.ts');\n");
    expect(() => layeringProblems(src)).toThrow('src/newplace is in no layer of LAYERS');
  });
});
