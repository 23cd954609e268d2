/**
 * Required literals of a regular expression, for the literal index: the longest run of plain ASCII characters
 * that every match must contain. Deliberately conservative — groups, classes, escapes that are not plain
 * punctuation and quantified characters all break a run; top-level alternation needs a run in every branch.
 * ASCII only, because under the `i` flag JavaScript never matches a non-ASCII character against an ASCII one,
 * so case-insensitive matches of an ASCII run are exactly its case folds.
 */
function branches(src: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push(src.slice(start, i));
      start = i + 1;
    }
    if (depth < 0) return undefined;
  }
  out.push(src.slice(start));
  return out;
}

function longestRun(src: string): string | undefined {
  const runs: string[] = [];
  let run = '';
  const cut = (): void => {
    if (run) runs.push(run);
    run = '';
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    const next = src[i + 1];
    // A quantifier after a plain char makes that char optional or repeated: drop it from the run.
    const quantified = next === '*' || next === '+' || next === '?' || next === '{';
    if (c === '\\') {
      const e = src[i + 1];
      i++;
      if (e !== undefined && /[^A-Za-z0-9]/.test(e) && e.charCodeAt(0) < 128) {
        const after = src[i + 1];
        if (after === '*' || after === '+' || after === '?' || after === '{') cut();
        else run += e;
      } else cut();
      continue;
    }
    if (c === '(' || c === '[') {
      // Skip the whole group or class.
      let depth = 0;
      let inClass = false;
      for (; i < src.length; i++) {
        const d = src[i];
        if (d === '\\') {
          i++;
          continue;
        }
        if (inClass) {
          if (d === ']') {
            inClass = false;
            if (depth === 0) break;
          }
          continue;
        }
        if (d === '[') inClass = true;
        else if (d === '(') depth++;
        else if (d === ')' && --depth === 0) break;
      }
      cut();
      continue;
    }
    if ('.^$*+?{}|)]'.includes(c) || c.charCodeAt(0) > 127) {
      cut();
      if (c === '{') while (i < src.length && src[i] !== '}') i++;
      continue;
    }
    if (quantified) {
      cut();
      continue;
    }
    run += c;
  }
  cut();
  return runs.sort((a, b) => b.length - a.length)[0];
}

/** The required ASCII literals of a regex (one per top-level branch), or undefined. */
export function regexLiterals(src: string): string[] | undefined {
  const body = src.replace(/^\(\?[ims]+\)/, '');
  const bs = branches(body);
  if (!bs) return undefined;
  const out: string[] = [];
  for (const b of bs) {
    const r = longestRun(b);
    if (!r) return undefined;
    out.push(r.toLowerCase());
  }
  return out;
}
