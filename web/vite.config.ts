/**
 * Build of the web console: `npm run build:web` writes web/dist, which the console role serves at
 * /console/. `npx vite --config web/vite.config.ts` runs a development server that forwards the API to a
 * platform on 127.0.0.1:8080 (`npm start`).
 */
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // nothing inlined as data: URLs or inline scripts: the console's CSP admits files from its origin only
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
