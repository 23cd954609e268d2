/**
 * The console speaks both languages (issue 18): every label is written once with its Vietnamese and its
 * English (`<Bi vi en/>`, `tr(vi, en)`), and this test fails when one is missing — a Vietnamese text left
 * in the markup without its English, a `<Bi>` or `tr()` with an empty side, or a "Vietnamese (English)"
 * string that the English mode would show half-Vietnamese. Read from the sources with TypeScript's parser.
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { PROJECT_ROOT } from '../../src/config.js';

const VI = /[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđÀÁẠẢÃÂẦẤẬẨẪĂẰẮẶẲẴÈÉẸẺẼÊỀẾỆỂỄÌÍỊỈĨÒÓỌỎÕÔỒỐỘỔỖƠỜỚỢỞỠÙÚỤỦŨƯỪỨỰỬỮỲÝỴỶỸĐ]/;
/** names, not words: the same in both languages */
const NAMES = new Set(['Trục', 'Tiếng Việt']);
const SRC = join(PROJECT_ROOT, 'web', 'src');

function sources(): { file: string; sf: ts.SourceFile }[] {
  const files = [...readdirSync(SRC).map((f) => join(SRC, f)), ...readdirSync(join(SRC, 'pages')).map((f) => join(SRC, 'pages', f))].filter((f) => /\.tsx?$/.test(f));
  return files.map((file) => ({ file, sf: ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX) }));
}

function walk(sf: ts.SourceFile, visit: (n: ts.Node) => void): void {
  const go = (n: ts.Node) => {
    visit(n);
    ts.forEachChild(n, go);
  };
  go(sf);
}

const where = (sf: ts.SourceFile, n: ts.Node) => `${sf.fileName.slice(SRC.length + 1)}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
const literal = (e: ts.Node | undefined): string | undefined =>
  e && (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) ? e.text : e && ts.isJsxExpression(e) && e.expression ? literal(e.expression) : undefined;

describe('console labels in both languages', () => {
  it('every problem code of the API has its meaning in both languages', async () => {
    const codes = [...readFileSync(join(PROJECT_ROOT, 'src', 'errors.ts'), 'utf8').matchAll(/^\s*\|\s*'([a-z_]+)'/gm)].map((m) => m[1]!);
    expect(codes.length).toBeGreaterThan(60);
    const { PROBLEM_TEXT } = await import('../../web/src/problems.js');
    const missing = codes.filter((c) => !PROBLEM_TEXT[c] || !PROBLEM_TEXT[c]![0] || !PROBLEM_TEXT[c]![1] || VI.test(PROBLEM_TEXT[c]![1]));
    expect(missing).toEqual([]);
  });

  const all = sources();

  it('reads the console sources', () => {
    expect(all.length).toBeGreaterThan(15);
  });

  it('no Vietnamese text in the markup without its English', () => {
    const bare: string[] = [];
    for (const { sf } of all)
      walk(sf, (n) => {
        if (ts.isJsxText(n) && VI.test(n.getText()) && !NAMES.has(n.getText().trim())) bare.push(`${where(sf, n)}: ${n.getText().trim().slice(0, 80)}`);
      });
    expect(bare).toEqual([]);
  });

  it('every <Bi> and tr() has both sides, neither empty', () => {
    const bad: string[] = [];
    let count = 0;
    for (const { sf } of all)
      walk(sf, (n) => {
        if ((ts.isJsxSelfClosingElement(n) || ts.isJsxOpeningElement(n)) && n.tagName.getText() === 'Bi') {
          count++;
          const attrs = new Map(n.attributes.properties.filter(ts.isJsxAttribute).map((a) => [a.name.getText(), a.initializer]));
          for (const side of ['vi', 'en']) {
            if (!attrs.has(side)) bad.push(`${where(sf, n)}: <Bi> without ${side}`);
            else if (literal(attrs.get(side)) === '') bad.push(`${where(sf, n)}: <Bi> with an empty ${side}`);
          }
        }
        if (ts.isCallExpression(n) && n.expression.getText() === 'tr') {
          count++;
          // tr(...pair): a [vi, en] tuple, typed so by its table
          if (n.arguments.length === 1 && ts.isSpreadElement(n.arguments[0]!)) return;
          if (n.arguments.length !== 2) bad.push(`${where(sf, n)}: tr() needs (vi, en)`);
          else if (n.arguments.some((a) => literal(a) === '')) bad.push(`${where(sf, n)}: tr() with an empty side`);
          else if (literal(n.arguments[1]) !== undefined && VI.test(literal(n.arguments[1])!)) bad.push(`${where(sf, n)}: tr()'s English is Vietnamese`);
        }
      });
    expect(bad).toEqual([]);
    expect(count).toBeGreaterThan(400);
  });

  it('no "Vietnamese (English)" string that English mode would show half in Vietnamese', () => {
    const mixed: string[] = [];
    for (const { sf } of all)
      walk(sf, (n) => {
        if (ts.isTemplateExpression(n)) {
          // a template with "Vietnamese … (English)" in its text parts, outside tr()
          const textParts = [n.head.text, ...n.templateSpans.map((sp) => sp.literal.text)].join('\u0000');
          const inTr = n.parent && ts.isCallExpression(n.parent) && n.parent.expression.getText() === 'tr';
          if (!inTr && VI.test(textParts) && /\([A-Za-z][^()\u0000]*\)/.test(textParts)) mixed.push(`${where(sf, n)}: ${n.getText().slice(0, 80)}`);
          return;
        }
        if (!(ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n))) return;
        const p = n.parent;
        if (p && ts.isCallExpression(p) && p.expression.getText() === 'tr') return;
        if (p && ts.isJsxAttribute(p) && ['vi', 'en'].includes(p.name.getText())) return;
        const m = /^([^()]*\S)\s*\(([^()]*[A-Za-z][^()]*)\)$/s.exec(n.text);
        if (m && VI.test(m[1]!) && !VI.test(m[2]!)) mixed.push(`${where(sf, n)}: ${n.text.slice(0, 80)}`);
      });
    expect(mixed).toEqual([]);
  });
});
