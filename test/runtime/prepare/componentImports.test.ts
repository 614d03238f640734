import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { componentImportNames } from '../../../src/runtime/prepare/componentImports.ts';
import { fixture } from '../../helpers.ts';

describe('componentImportNames', () => {
  it('default: the import names of a component, versions included, as written in its binary', () => {
    expect(componentImportNames(readFileSync(fixture('wasi-exit')))).toEqual(['wasi:cli/exit@0.2.12']);
    expect(componentImportNames(readFileSync(fixture('compute')))).toEqual([]);
  });

  it('args: the older "interface" name form (kind 0x01) reads as the same name', () => {
    const bytes = new Uint8Array(readFileSync(fixture('wasi-exit')));
    const name = new TextEncoder().encode('wasi:cli/exit@0.2.12');
    // The name kind byte sits just before the name's length and text.
    const at = Buffer.from(bytes).indexOf(Buffer.from(name)) - 2;
    expect(bytes[at]).toBe(0x00);
    bytes[at] = 0x01;
    expect(componentImportNames(bytes)).toEqual(['wasi:cli/exit@0.2.12']);
  });

  it('error: a malformed import section is an error saying so, never a hang: every truncation of a real component', () => {
    const bytes = readFileSync(fixture('wasi-exit'));
    for (let end = 9; end < bytes.length; end++) {
      try {
        componentImportNames(bytes.subarray(0, end));
      } catch (error) {
        expect((error as Error).message).toMatch(/past the end|too long|unknown/);
      }
    }
  });
});
