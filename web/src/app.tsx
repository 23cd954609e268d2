import { lang, tr } from './i18n';
/**
 * The console's frame: sign-in when there is no session, otherwise the header (who is signed in, with
 * which roles), the pages the caller's permissions open, and the page for the current path.
 */
import { useEffect, useState, useSyncExternalStore } from 'react';
import { session } from './session';
import { Link, match, navigate, useLocation } from './router';
import { Bi, LangSwitch } from './components';
import { SignIn } from './pages/sign-in';
import { Alerts } from './pages/alerts';
import { AlertDetail } from './pages/alert-detail';
import { Rules } from './pages/rules';
import { Events } from './pages/events';
import { Lab } from './pages/lab';
import { LabProduct } from './pages/lab-product';
import { Certificates } from './pages/certificates';
import { Exchange } from './pages/exchange';
import { ExchangeRequests } from './pages/exchange-requests';
import { ExchangeServer } from './pages/exchange-server';
import { Documents, DocumentView } from './pages/documents';
import { Signatures } from './pages/signatures';
import { Audit } from './pages/audit';
import { Dashboard } from './pages/dashboard';

interface NavItem {
  path: string;
  vi: string;
  en: string;
  permission: string;
}

export const NAV: NavItem[] = [
  { path: '/alerts', vi: 'Cảnh báo', en: 'Alerts', permission: 'monitor.read' },
  { path: '/dashboard', vi: 'Tổng quan', en: 'Dashboard', permission: 'monitor.read' },
  { path: '/rules', vi: 'Luật phát hiện', en: 'Rules', permission: 'monitor.read' },
  { path: '/events', vi: 'Sự kiện', en: 'Events', permission: 'monitor.read' },
  { path: '/lab', vi: 'Sổ đăng ký sản phẩm', en: 'Lab register', permission: 'lab.read' },
  { path: '/certificates', vi: 'Chứng thư số', en: 'CA certificates', permission: 'ca.read' },
  { path: '/exchange', vi: 'Trục liên thông', en: 'Exchange', permission: 'ss.read' },
  {
    path: '/exchange/requests',
    vi: 'Đăng ký trục',
    en: 'Exchange registrations',
    permission: 'central.read',
  },
  { path: '/documents', vi: 'Văn bản điện tử', en: 'Documents', permission: 'doc.read' },
  { path: '/signatures', vi: 'Chữ ký số', en: 'Signatures', permission: 'sign.validate' },
  { path: '/audit', vi: 'Nhật ký kiểm toán', en: 'Audit log', permission: 'audit.verify' },
];

/** the menu entry of a path: the longest entry it is under (/exchange/requests is not /exchange) */
function activeNav(path: string): NavItem | undefined {
  return NAV.filter((n) => path === n.path || path.startsWith(n.path + '/')).sort(
    (a, b) => b.path.length - a.path.length,
  )[0];
}

function useMe() {
  return useSyncExternalStore(
    session.subscribe,
    () => sessionStorage.getItem('truc.console.me') && session.token(),
  );
}

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if ((m = match('/alerts/:id', path))) return <AlertDetail id={m.id!} />;
  if (path === '/alerts') return <Alerts />;
  if (path === '/rules') return <Rules />;
  if (path === '/events') return <Events />;
  if (path === '/lab') return <Lab />;
  if ((m = match('/lab/products/:id', path))) return <LabProduct id={m.id!} />;
  if (path === '/certificates') return <Certificates />;
  if (path === '/exchange') return <Exchange />;
  if (path === '/exchange/requests') return <ExchangeRequests />;
  if ((m = match('/exchange/servers/:code', path))) return <ExchangeServer code={m.code!} />;
  if (path === '/documents') return <Documents />;
  if (path === '/signatures') return <Signatures />;
  if (path === '/audit') return <Audit />;
  if (path === '/dashboard') return <Dashboard />;
  if ((m = match('/documents/:id', path))) return <DocumentView id={m.id!} />;
  return <Home />;
}

function Home() {
  const me = session.me();
  const open = NAV.filter((n) => session.can(n.permission));
  return (
    <div className="home">
      <h1>
        <Bi vi="Xin chào" en="Welcome" />, {me?.name}
      </h1>
      {open.length ? (
        <ul className="cards">
          {open.map((n) => (
            <li key={n.path}>
              <Link to={n.path}>
                <Bi vi={n.vi} en={n.en} />
              </Link>
            </li>
          ))}
        </ul>
      ) : (
        <p>
          {tr(
            `Vai trò của bạn (${me?.roles.join(', ')}) không mở trang nào của bảng điều khiển`,
            `Your roles (${me?.roles.join(', ')}) open no console page`,
          )}
        </p>
      )}
    </div>
  );
}

export function App() {
  const signedIn = useMe();
  const { path } = useLocation();

  useEffect(() => {
    if (!signedIn && path !== '/signin')
      navigate(`/signin${path !== '/' ? `?next=${encodeURIComponent(path + location.search)}` : ''}`, {
        replace: true,
      });
    else if (signedIn && path === '/') {
      const first = NAV.find((n) => session.can(n.permission));
      if (first) navigate(first.path, { replace: true });
    }
  }, [signedIn, path]);

  if (!signedIn || path === '/signin') return <SignIn />;
  return <Shell path={path} />;
}

/** the signed-in frame: header with the menu (collapsed behind a button on narrow screens), and the page */
function Shell({ path }: { path: string }) {
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [path]);
  const me = session.me()!;
  return (
    <div className="shell">
      <header className="top">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Trục{' '}
          <span className="brand-sub">
            <Bi vi="Bảng điều khiển" en="Console" />
          </span>
        </Link>
        <button
          type="button"
          className="secondary small menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="site-nav"
          onClick={() => setMenuOpen((o) => !o)}
        >
          <Bi vi="Trình đơn" en="Menu" />
        </button>
        <nav id="site-nav" className={menuOpen ? 'nav open' : 'nav'} aria-label={tr('Trang', 'pages')}>
          {NAV.filter((n) => session.can(n.permission)).map((n) => (
            <Link key={n.path} to={n.path} className={activeNav(path) === n ? 'active' : ''}>
              {lang() === 'en' ? n.en : n.vi}
            </Link>
          ))}
        </nav>
        <div className="who" data-testid="whoami">
          <LangSwitch />
          <span className="who-name">{me.name}</span>
          {me.roles.map((r) => (
            <span key={r} className="role">
              {r}
            </span>
          ))}
          <button
            type="button"
            className="secondary small"
            onClick={() => {
              session.end();
              navigate('/signin');
            }}
          >
            <Bi vi="Đăng xuất" en="Sign out" />
          </button>
        </div>
      </header>
      <main className="main">
        <Page path={path} />
      </main>
    </div>
  );
}
