import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_DIR, generateTypes } from '../../wit/generateTypes.ts';

describe('generated host types', () => {
  it('behavior: src/host/generated matches wit/module.wit (run `npm run wit:types` after changing the world)', async () => {
    const generated = await generateTypes();
    // One file per interface of the world, none left over from an interface since removed.
    expect(readdirSync(GENERATED_DIR).sort()).toEqual([...generated.keys()].sort());
    for (const [name, content] of generated) expect(readFileSync(join(GENERATED_DIR, name), 'utf8'), name).toBe(content);
  });
});
