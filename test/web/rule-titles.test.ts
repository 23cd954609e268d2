/**
 * Our own detection rules' titles in the console's two languages (web/src/rule-titles.ts): every rule
 * written by Trục under src/monitor/rules has its Vietnamese title, and the table's English is the rule's
 * title as it is now — a title changed in the rule without the table fails here (the console would
 * otherwise fall back to the English alone).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { RULE_TITLES, ruleTitle } from '../../web/src/rule-titles.js';

const DIR = join(import.meta.dirname, '..', '..', 'src', 'monitor', 'rules');
const ours = readdirSync(DIR)
  .filter((f) => f.endsWith('.yml'))
  .flatMap((f) => parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => ({ file: f, ...(d.toJS() as { id: string; title: string; author?: string }) })))
  .filter((r) => r.author === 'Trục');

describe("our rules' titles in Vietnamese and English", () => {
  it('every rule of ours has its Vietnamese title, the English as the rule has it', () => {
    expect(ours.length).toBeGreaterThan(15);
    const missing = ours.filter((r) => !RULE_TITLES[r.id]).map((r) => `${r.file}: ${r.id} "${r.title}"`);
    expect(missing).toEqual([]);
    const stale = ours.filter((r) => RULE_TITLES[r.id]!.en !== r.title).map((r) => `${r.file}: "${RULE_TITLES[r.id]!.en}" is now "${r.title}"`);
    expect(stale).toEqual([]);
    for (const r of ours) {
      const t = RULE_TITLES[r.id]!;
      expect(t.vi.trim(), r.id).not.toBe('');
      expect(t.vi, `${r.id}: the Vietnamese is not the English`).not.toBe(t.en);
    }
  });

  it('no entry for a rule that is not ours any more', () => {
    const ids = new Set(ours.map((r) => r.id));
    expect(Object.keys(RULE_TITLES).filter((id) => !ids.has(id))).toEqual([]);
  });

  it("a title the table does not know, or a rule's changed title, is shown as written", () => {
    const [id, t] = Object.entries(RULE_TITLES)[0]!;
    expect(ruleTitle(id, t.en)).toEqual(t);
    expect(ruleTitle(id, `${t.en} (edited)`)).toBeUndefined();
    expect(ruleTitle('another-authors-rule', 'Suspicious PowerShell')).toBeUndefined();
  });
});
