import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_DIR, generateTypes } from '../../wit/generateTypes.ts';

describe('generated host types', () => {
  it('behavior: src/host/generated matches wit/module.wit (run `npm run wit:types` after changing the world)', async () => {
    const generated = await generateTypes();
    expect(generated.size).toBe(7);
    for (const [name, content] of generated) expect(readFileSync(join(GENERATED_DIR, name), 'utf8'), name).toBe(content);
  });
});
