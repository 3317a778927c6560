/**
 * The dashboard bundle: built into dist/dashboard by `npm run build`, served by the broker at /
 * (src/api/dashboard.ts). No inline scripts or styles, so the broker's CSP can forbid them.
 */
import preact from '@preact/preset-vite';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  plugins: [preact({ prefreshEnabled: false, devToolsEnabled: false })],
  build: {
    outDir: path.join(here, '../../dist/dashboard'),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: true,
    modulePreload: { polyfill: false },
  },
  server: {
    // `npx vite client/dashboard` for development against a broker on :4000.
    proxy: { '/graphql': { target: 'http://localhost:4000', ws: true } },
  },
});
