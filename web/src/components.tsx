import { tr } from './i18n';
/** Small pieces every page uses: bilingual labels, problem boxes, badges, loading state. */
import { useCallback, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { ApiProblem, type Problem } from './api';
import { PROBLEM_TEXT } from './problems';
import { lang, setLang, subscribeLang, type Lang } from './i18n';
import { ALERT_STATUS_VI, CERT_STATUS_VI, LEVEL_VI } from './format';
import { ruleTitle } from './rule-titles';

/** The language choice: Vietnamese (with English beside) or English; remembered in this browser. */
export function LangSwitch() {
  const l = useSyncExternalStore(subscribeLang, lang);
  return (
    <select
      className="lang-switch"
      name="lang"
      aria-label="Ngôn ngữ / Language"
      value={l}
      onChange={(e) => setLang(e.target.value as Lang)}
    >
      <option value="vi">Tiếng Việt</option>
      <option value="en">English</option>
    </select>
  );
}

/** Vietnamese first, English after it in a quieter voice; in English, the English alone (src/i18n.ts). */
export function Bi({ vi, en }: { vi: string; en: string }) {
  if (lang() === 'en') return <>{en}</>;
  return (
    <>
      {vi}
      {en ? <span className="en"> ({en})</span> : null}
    </>
  );
}

export function PageTitle({ vi, en, children }: { vi: string; en: string; children?: ReactNode }) {
  return (
    <div className="page-title">
      <h1>
        <Bi vi={vi} en={en} />
      </h1>
      {children}
    </div>
  );
}

const KIND: Record<number, { vi: string; en: string }> = {
  0: { vi: 'Không kết nối được', en: 'Network error' },
  400: { vi: 'Yêu cầu không hợp lệ', en: 'Bad request' },
  401: { vi: 'Chưa xác thực', en: 'Unauthenticated' },
  403: { vi: 'Không đủ quyền', en: 'Forbidden' },
  404: { vi: 'Không tìm thấy', en: 'Not found' },
  409: { vi: 'Xung đột trạng thái', en: 'Conflict' },
  413: { vi: 'Quá lớn', en: 'Too large' },
};

/** An API problem (RFC 9457) as the operator should read it: what kind, what the server said, its code. */
export function ProblemBox({ error, onClose }: { error: unknown; onClose?: () => void }) {
  if (!error) return null;
  const p: Problem =
    error instanceof ApiProblem
      ? error.problem
      : { status: 0, detail: String((error as Error)?.message ?? error) };
  const kind =
    KIND[p.status] ??
    (p.status >= 500 ? { vi: 'Lỗi máy chủ', en: 'Server error' } : { vi: 'Lỗi', en: 'Error' });
  return (
    <div className={`problem problem-${p.status}`} role="alert" data-status={p.status} data-code={p.code}>
      <div className="problem-head">
        <strong>
          {p.status ? `${p.status} · ` : ''}
          <Bi vi={kind.vi} en={kind.en} />
        </strong>
        {onClose ? (
          <button type="button" className="link" onClick={onClose} aria-label={tr('Đóng', 'dismiss')}>
            ×
          </button>
        ) : null}
      </div>
      {p.code && PROBLEM_TEXT[p.code] && PROBLEM_TEXT[p.code]![0] !== kind.vi ? (
        <div className="problem-meaning">
          <Bi vi={PROBLEM_TEXT[p.code]![0]} en={PROBLEM_TEXT[p.code]![1]} />
        </div>
      ) : null}
      {p.detail ? <div className="problem-detail">{p.detail}</div> : null}
      {p.status === 403 ? (
        <div className="problem-hint">
          <Bi
            vi="Vai trò của bạn không được phép thao tác này; hãy dùng mã truy cập có vai trò phù hợp."
            en="Your roles do not grant this operation."
          />
        </div>
      ) : null}
      {p.code ? <code className="problem-code">{p.code}</code> : null}
    </div>
  );
}

export function LevelBadge({ level }: { level: string }) {
  return (
    <span className={`badge level-${level}`} title={level}>
      {lang() === 'en' ? level : (LEVEL_VI[level] ?? level)}
    </span>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge status-${status}`} data-status={status}>
      {lang() === 'en' ? status : (ALERT_STATUS_VI[status] ?? CERT_STATUS_VI[status] ?? status)}
    </span>
  );
}

export function Loading() {
  return (
    <div className="loading">
      <Bi vi="Đang tải…" en="loading" />
    </div>
  );
}

export function Empty({ children }: { children?: ReactNode }) {
  return <div className="empty">{children ?? tr('Không có kết quả', 'no results')}</div>;
}

/** Loads data for a page and reloads on demand; stale answers (from older parameters) are dropped. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const seq = useRef(0);
  const run = useCallback(load, deps);
  const reload = useCallback(() => {
    const n = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    run().then(
      (data) => n === seq.current && setState({ data, error: null, loading: false }),
      (error) => n === seq.current && setState({ data: undefined, error, loading: false }),
    );
  }, [run]);
  useEffect(reload, [reload]);
  return { ...state, reload };
}

/** Runs an action (a button's API call), keeping its error to show and telling when it is busy. */
export function useAction(): {
  busy: boolean;
  error: unknown;
  clear: () => void;
  run: (f: () => Promise<unknown>) => Promise<boolean>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, clear: () => setError(null), run };
}

export function Json({ value }: { value: unknown }) {
  return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
}

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog (the native `<dialog>` opened with showModal: the page behind is inert). Focus moves to
 * its first control (or `initialFocus`), Tab and Shift+Tab go round its controls and never leave it,
 * Escape closes it (`onClose`), and on closing — by Escape, a button or the page changing — focus goes
 * back to the control that was focused when it opened. Title and body are the dialog's accessible name
 * and description.
 */
export function Modal({
  title,
  onClose,
  children,
  testId,
}: {
  title: ReactNode;
  onClose: () => void;
  children: ReactNode;
  testId?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const close = useRef(onClose);
  close.current = onClose;
  const id = useRef(`dialog-${Math.random().toString(36).slice(2, 10)}`).current;
  useEffect(() => {
    const d = ref.current!;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!d.open) d.showModal();
    const first = d.querySelector<HTMLElement>('[data-autofocus]') ?? d.querySelector<HTMLElement>(FOCUSABLE);
    (first ?? d).focus();
    const onCancel = (e: Event) => {
      // Escape: closed by the page's state, so that React and the dialog agree
      e.preventDefault();
      close.current();
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        close.current();
        return;
      }
      if (e.key !== 'Tab') return;
      const all = Array.from(d.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((el) => el.offsetParent !== null);
      if (!all.length) {
        e.preventDefault();
        return;
      }
      const i = all.indexOf(document.activeElement as HTMLElement);
      const next = e.shiftKey ? (i <= 0 ? all.length - 1 : i - 1) : i === -1 || i === all.length - 1 ? 0 : i + 1;
      e.preventDefault();
      all[next]!.focus();
    };
    d.addEventListener('cancel', onCancel);
    d.addEventListener('keydown', onKey);
    return () => {
      d.removeEventListener('cancel', onCancel);
      d.removeEventListener('keydown', onKey);
      if (d.open) d.close();
      if (opener && opener.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog ref={ref} className="modal" aria-labelledby={`${id}-title`} data-testid={testId} tabIndex={-1}>
      <h2 id={`${id}-title`}>{title}</h2>
      {children}
    </dialog>
  );
}

/** A detection rule's title (an alert's, a rule's): in both languages for our own rules, as written for others. */
export function RuleTitle({ ruleId, title }: { ruleId: string; title: string }) {
  const t = ruleTitle(ruleId, title);
  return t ? <Bi vi={t.vi} en={t.en} /> : <>{title}</>;
}
