/**
 * The console's language (issue 18): Vietnamese by default — with the English beside it in a quieter voice,
 * as every Trục screen speaks — or English alone. Remembered in the browser (localStorage; it holds no secret).
 * Labels are written once with both languages (`<Bi vi en/>`, `tr(vi, en)`); a test fails when a label lacks
 * either (test/web/i18n.test.ts). Changing the language renders the console again in it.
 */
export type Lang = 'vi' | 'en';

const KEY = 'truc.console.lang';
const listeners = new Set<() => void>();

function read(): Lang {
  try {
    return localStorage.getItem(KEY) === 'en' ? 'en' : 'vi';
  } catch {
    return 'vi';
  }
}

let current: Lang = typeof localStorage === 'undefined' ? 'vi' : read();

export function lang(): Lang {
  return current;
}

export function setLang(l: Lang): void {
  current = l;
  try {
    localStorage.setItem(KEY, l);
  } catch {
    // private mode: the choice lasts for this page only
  }
  if (typeof document !== 'undefined') document.documentElement.lang = l;
  listeners.forEach((f) => f());
}

export function subscribeLang(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** A label as text (attributes, options, messages): "Vietnamese (English)", or the English alone. */
export function tr(vi: string, en: string): string {
  return current === 'en' ? en : `${vi} (${en})`;
}
