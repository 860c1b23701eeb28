// The web console's build: web/ is the root, the bundle goes to dist/web, which the
// server serves. `npx vite --config web/vite.config.ts` runs a dev server that sends
// /api to a local `labvirt server` (LABVIRT_API, default 127.0.0.1:8080).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));
const api = process.env['LABVIRT_API'] ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2048,
  },
  server: {
    proxy: { '/api': { target: api, ws: true } },
  },
});
