/** `npm run docs`: writes every generated reference page from the code. */
import { writeFileSync } from 'node:fs';
import { REFERENCE_PAGES, ROOT } from './referencePages.ts';

for (const page of REFERENCE_PAGES) {
  writeFileSync(`${ROOT}${page.path}`, await page.render());
  process.stdout.write(`wrote ${page.path}\n`);
}
