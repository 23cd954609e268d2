/**
 * A small history router: the console's pages are paths under /console/ (the server answers every one of
 * them with the app), so a page can be bookmarked, reloaded and shared. Query strings carry a page's
 * filters, so the back button returns to the same search.
 */
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

export const BASE = '/console';

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

function subscribe(l: () => void) {
  listeners.add(l);
  return () => listeners.delete(l);
}

const snapshot = () => location.pathname + location.search;

/** The current path inside the console ("/alerts/12") and its query. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const full = useSyncExternalStore(subscribe, snapshot);
  const u = new URL(full, location.origin);
  const path = u.pathname.startsWith(BASE) ? u.pathname.slice(BASE.length) || '/' : u.pathname;
  return { path: path.length > 1 ? path.replace(/\/+$/, '') : path, query: u.searchParams };
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const url = BASE + to;
  if (url === snapshot()) return;
  if (opts.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  listeners.forEach((l) => l());
}

/** Sets the query of the current page (filters) without adding a history entry per keystroke. */
export function setQuery(values: Record<string, string | undefined>, opts: { replace?: boolean } = {}): void {
  const u = new URL(location.href);
  u.search = '';
  for (const [k, v] of Object.entries(values)) if (v) u.searchParams.set(k, v);
  const to = u.pathname.slice(BASE.length) + u.search;
  navigate(to, opts);
}

export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={BASE + to} onClick={onClick} {...rest} />;
}

/** Matches "/alerts/:id" against a path; returns the parameters or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(':')) out[p[i]!.slice(1)] = decodeURIComponent(s[i]!);
    else if (p[i] !== s[i]) return null;
  }
  return out;
}
