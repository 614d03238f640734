/**
 * Reads declarations from corral's sources with the TypeScript compiler's parser (already a
 * devDependency), so the reference pages are generated from the code's own words: the doc comment of
 * a class or interface, the members of an interface with their types and doc comments, and the members
 * of a string-literal union with the comment written beside each.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export const SRC = new URL('../../src/', import.meta.url).pathname;

export interface SourceFile {
  /** Path relative to the repository, e.g. `src/errors/LoadError.ts`. */
  path: string;
  file: ts.SourceFile;
}

export function sourceFiles(dir = SRC): SourceFile[] {
  const out: SourceFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
      out.push({ path: relative(join(SRC, '..'), path), file: ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true) });
    }
  }
  return out;
}

/** A declaration's doc comment as one line of text ('' when it has none). */
export function docOf(node: ts.Node): string {
  const comments = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
  return comments.map((c) => ts.getTextOfJSDocComment(c.comment) ?? '').join(' ').replace(/\s+/g, ' ').trim();
}

export interface Member {
  name: string;
  type: string;
  optional: boolean;
  doc: string;
}

/** The properties an interface declares itself (not those it inherits). */
export function membersOf(node: ts.InterfaceDeclaration): Member[] {
  return node.members.filter(ts.isPropertySignature).map((m) => ({
    name: m.name.getText(),
    type: (m.type?.getText() ?? 'unknown').replace(/\s+/g, ' '),
    optional: m.questionToken !== undefined,
    doc: docOf(m),
  }));
}

export interface LiteralMember {
  value: string;
  /** The `// …` comment written after the member, if any. */
  comment: string;
}

/** The string literals of a union type, each with the line comment that follows it in the source. */
export function literalsOf(type: ts.TypeNode, file: ts.SourceFile): LiteralMember[] {
  const members = ts.isUnionTypeNode(type) ? type.types : [type];
  return members.flatMap((m) => {
    if (!ts.isLiteralTypeNode(m) || !ts.isStringLiteral(m.literal)) return [];
    // The comment beside a member follows it on its line, after the `;` when it is the last one.
    const text = file.text;
    let at = m.end;
    while (at < text.length && /[ \t;]/.test(text[at]!)) at += 1;
    const line = (ts.getTrailingCommentRanges(text, at) ?? []).find((r) => r.kind === ts.SyntaxKind.SingleLineCommentTrivia);
    return [{ value: m.literal.text, comment: line ? text.slice(line.pos + 2, line.end).trim() : '' }];
  });
}

/** Every top-level statement of the given kind across the sources. */
export function declarations<T extends ts.Statement>(files: SourceFile[], is: (node: ts.Node) => node is T): { path: string; file: ts.SourceFile; node: T }[] {
  return files.flatMap(({ path, file }) => file.statements.filter(is).map((node) => ({ path, file, node })));
}

/** The name a class extends, e.g. `CorralError` for `class LoadError extends CorralError<LoadErrorCode>`. */
export function baseOf(node: ts.ClassDeclaration): { name: string; typeArguments: readonly ts.TypeNode[] } | undefined {
  const clause = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0];
  return clause ? { name: clause.expression.getText(), typeArguments: clause.typeArguments ?? [] } : undefined;
}

/** Markdown table cell text: pipes escaped, one line. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
}
