import { StrictMode, useSyncExternalStore } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app';
import { lang, subscribeLang } from './i18n';
import './styles.css';

/** The console drawn again, whole, in the language chosen (src/i18n.ts). */
function Root() {
  const l = useSyncExternalStore(subscribeLang, lang);
  return <App key={l} />;
}

document.documentElement.lang = lang(); // as remembered (nothing is written until one is chosen)
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
