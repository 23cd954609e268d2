/**
 * Which fields of an event made a rule match, for people reading a hunt. The compiled rule is one closure
 * and cannot say; so, only for the events a rule did match (few), its detection is compiled again search by
 * search and item by item, and the items that hold inside the searches that hold give the fields, with the
 * event's values. When that finds nothing (a rule matching only through `not …`), every field the rule's
 * searches name is shown with the event's value.
 */
import { isTrucError } from '../../errors.js';
import { compileDetection } from '../sigma/compile.js';
import { fieldsOf, readDetection, type SearchNode } from '../sigma/detection.js';
import { accessor, EventView } from '../sigma/event-view.js';
import { compileItem, type ItemContext } from '../sigma/field-test.js';
import { applyPipelines, pipelineVars, type Pipeline } from '../sigma/pipeline.js';
import type { SigmaRule } from '../sigma/types.js';

type Test = (v: EventView) => boolean;

interface Item {
  field: string | undefined;
  test: Test;
  /** keyword items: each value on its own, to say which one matched */
  values?: { value: unknown; test: Test }[];
}

interface Explained {
  searches: { test: Test; items: Item[] }[];
  fields: string[];
}

/** The leaves of a search, in order. */
function items(node: SearchNode, out: Extract<SearchNode, { t: 'item' }>[] = []): Extract<SearchNode, { t: 'item' }>[] {
  if (node.t === 'item') out.push(node);
  else for (const i of node.items) items(i, out);
  return out;
}

/** Shown values are cut: a whole PowerShell script block does not belong in a table cell. */
const MAX_VALUE = 1024;

function shown(v: unknown): unknown {
  if (typeof v === 'string' && v.length > MAX_VALUE) return `${v.slice(0, MAX_VALUE)}…`;
  return v;
}

export class MatchedFields {
  private readonly cache = new Map<SigmaRule, Explained | null>();
  private readonly ctx: ItemContext;

  constructor(private readonly opts: { pipelines?: readonly Pipeline[]; placeholders?: Readonly<Record<string, readonly string[]>> } = {}) {
    this.ctx = { placeholders: { ...(opts.pipelines ? pipelineVars(opts.pipelines) : {}), ...(opts.placeholders ?? {}) } };
  }

  private compile(rule: SigmaRule): Explained | null {
    try {
      let detection = readDetection(rule.detection);
      if (this.opts.pipelines?.length) detection = applyPipelines(this.opts.pipelines, rule, detection, rule.logsource).detection;
      const searches: Explained['searches'] = [];
      const fields = new Set<string>();
      for (const [name, node] of detection.searches) {
        const leaves: Item[] = items(node).map((i) => ({
          field: i.field,
          test: compileItem(i.field, i.modifiers, i.values, this.ctx).test,
          ...(i.field === undefined
            ? { values: i.values.map((value) => ({ value, test: compileItem(undefined, i.modifiers, [value], this.ctx).test })) }
            : {}),
        }));
        // a search of one item is that item: tested once
        const whole = leaves.length === 1 ? () => true : compileDetection({ searches: new Map([[name, node]]), conditions: [name] }, this.ctx).test;
        searches.push({ test: whole, items: leaves });
        fieldsOf(node, fields);
      }
      return { searches, fields: [...fields] };
    } catch (e) {
      if (isTrucError(e)) return null;
      throw e;
    }
  }

  /**
   * Field name → the event's value, for the fields that made `rule` match `event`. Several rules matching
   * one event share `view`, and with it the folded values already computed.
   */
  of(rule: SigmaRule, event: Record<string, unknown>, view = new EventView(event)): Record<string, unknown> {
    let x = this.cache.get(rule);
    if (x === undefined) this.cache.set(rule, (x = this.compile(rule)));
    if (!x) return {};
    const out: Record<string, unknown> = {};
    for (const s of x.searches) {
      if (!s.test(view)) continue;
      for (const i of s.items) {
        if (!i.test(view)) continue;
        if (i.field === undefined) {
          const hit = i.values?.filter((v) => v.test(view)).map((v) => v.value) ?? [];
          if (hit.length) out.keywords = hit.length === 1 ? hit[0] : hit;
          continue;
        }
        const v = accessor(i.field)(view);
        if (v !== undefined && !(i.field in out)) out[i.field] = shown(v);
      }
    }
    if (Object.keys(out).length === 0) {
      for (const f of x.fields) {
        const v = accessor(f)(view);
        if (v !== undefined) out[f] = shown(v);
      }
    }
    return out;
  }
}
