/**
 * The signed-in operator: the API token (in sessionStorage only — it goes when the tab closes and is never
 * written to localStorage or a cookie) and what the platform said about it at sign-in (name, roles,
 * permissions). Listeners are told when the session starts or ends.
 */
export interface Me {
  name: string;
  kind: 'token' | 'certificate';
  roles: string[];
  permissions: string[];
}

const TOKEN = 'truc.console.token';
const ME = 'truc.console.me';
const listeners = new Set<() => void>();
let expiredReason: string | null = null;

function read<T>(key: string): T | null {
  try {
    const v = sessionStorage.getItem(key);
    return v ? (JSON.parse(v) as T) : null;
  } catch {
    return null;
  }
}

export const session = {
  token(): string | null {
    return read<string>(TOKEN);
  },
  me(): Me | null {
    return this.token() ? read<Me>(ME) : null;
  },
  can(permission: string): boolean {
    return !!this.me()?.permissions.includes(permission);
  },
  start(token: string, me: Me): void {
    sessionStorage.setItem(TOKEN, JSON.stringify(token));
    sessionStorage.setItem(ME, JSON.stringify(me));
    expiredReason = null;
    listeners.forEach((l) => l());
  },
  end(): void {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(ME);
    listeners.forEach((l) => l());
  },
  /** the API refused the token: end the session and remember why, for the sign-in page */
  expire(reason: string): void {
    expiredReason = reason;
    this.end();
  },
  takeExpiredReason(): string | null {
    const r = expiredReason;
    expiredReason = null;
    return r;
  },
  subscribe(l: () => void): () => void {
    listeners.add(l);
    return () => listeners.delete(l);
  },
};
