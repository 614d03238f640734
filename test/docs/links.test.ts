import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? markdownFiles(path) : name.endsWith('.md') ? [path] : [];
  });
}

const pages = [join(root, 'README.md'), join(root, 'CONTRIBUTING.md'), join(root, 'examples/twap-monitor/README.md'), ...markdownFiles(join(root, 'docs'))];

/** The text outside fenced code blocks: a `[x](y)` in an example is not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchors(markdown: string): Set<string> {
  return new Set([...prose(markdown).matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1]!)));
}

/** Every relative link of a page: its target file (resolved) and anchor. */
function relativeLinks(page: string): { link: string; file: string; anchor: string | undefined }[] {
  const text = prose(readFileSync(page, 'utf8'));
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((link) => !/^[a-z]+:/i.test(link))
    .map((link) => {
      const [path, anchor] = link.split('#') as [string, string | undefined];
      return { link, file: path === '' ? page : resolve(dirname(page), path), anchor };
    });
}

describe('links of the README, CONTRIBUTING.md and docs/', () => {
  it('default: the pages exist and link somewhere', () => {
    expect(pages.map((p) => relative(root, p))).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/architecture.md', 'docs/reference/signals.md']));
    expect(relativeLinks(join(root, 'README.md')).length).toBeGreaterThan(10);
  });

  it('behavior: every relative link resolves to a file, and every anchor to a heading of the page it names', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const { link, file, anchor } of relativeLinks(page)) {
        if (!existsSync(file)) broken.push(`${relative(root, page)}: ${link} (no such file)`);
        else if (anchor !== undefined && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${relative(root, page)}: ${link} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('behavior: a link into a code block is not checked, and a heading\'s anchor is GitHub\'s', () => {
    expect(prose('see [a](x.md)\n```\n[b](y.md)\n```\n')).not.toContain('y.md');
    expect(slug('The demo: `npm start`')).toBe('the-demo-npm-start');
    expect(slug('`corral dead-letters purge`')).toBe('corral-dead-letters-purge');
  });
});
