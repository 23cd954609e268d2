import { tr } from '../i18n';
/**
 * Sign-in with an API token (`truc token create`, or data/bootstrap-tokens.txt on a first start). The
 * token is checked against /api/v1/auth/whoami before it is kept, and kept in sessionStorage only.
 */
import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { session, type Me } from '../session';
import { navigate, useLocation } from '../router';
import { Bi, LangSwitch, ProblemBox } from '../components';

export function SignIn() {
  const { query } = useLocation();
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [expired] = useState(() => session.takeExpiredReason());

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const t = token.trim();
      const me = await api<Me>('/api/v1/auth/whoami', { token: t });
      session.start(t, me);
      const next = query.get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <form className="signin-card" onSubmit={submit}>
        <div className="signin-brand">
          <span className="brand-mark" aria-hidden="true" />
          <div>
            <div className="signin-title">Trục</div>
            <LangSwitch />
            <div className="signin-sub">
              <Bi vi="Nền tảng tin cậy cho Chính phủ điện tử" en="e-government trust platform" />
            </div>
          </div>
        </div>
        <h1>
          <Bi vi="Đăng nhập" en="Sign in" />
        </h1>
        {expired ? (
          <div className="notice" role="status">
            <Bi
              vi="Phiên đã kết thúc: máy chủ không chấp nhận mã truy cập nữa"
              en="Session ended: the token was refused"
            />{' '}
            — {expired}
          </div>
        ) : null}
        <label className="field">
          <span>
            <Bi vi="Mã truy cập API" en="API token" />
          </span>
          <input
            name="token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            placeholder="truc_…"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            required
          />
        </label>
        <ProblemBox error={error} />
        <button type="submit" disabled={busy || !token.trim()}>
          {busy ? tr('Đang kiểm tra…', 'checking') : tr('Đăng nhập', 'Sign in')}
        </button>
        <p className="hint">
          <Bi
            vi="Mã được giữ trong phiên trình duyệt này (sessionStorage) và mất khi đóng thẻ. Lần khởi động đầu tiên ghi một mã cho mỗi vai trò vào data/bootstrap-tokens.txt."
            en="The token stays in this tab's session storage only and goes when the tab closes. The first start writes one token per role to data/bootstrap-tokens.txt."
          />
        </p>
      </form>
    </main>
  );
}
