// Vite build of the dashboard: two entries (the app and GraphiQL), a
// manifest for the bundle budget, a dev proxy to a running admin API, and
// the Vitest setup.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The admin API the dev server forwards /graphql to (HTTP and WebSocket).
const adminUrl = process.env.ENSIGN_ADMIN_URL ?? 'http://127.0.0.1:8017';

// The policy `ensign serve` sends with the dashboard: `vite preview` sends
// it too, so a build that breaks it (an inline script or style) shows here.
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export default defineConfig({
  plugins: [react()],
  build: {
    manifest: true,
    // GraphiQL's lazily loaded chunk is large by nature; what the app's
    // first screen loads is held by npm run budget instead.
    chunkSizeWarningLimit: 700,
    // The server's CSP allows no inline code: every asset is a file.
    assetsInlineLimit: 0,
    rollupOptions: {
      input: {
        main: 'index.html',
        graphiql: 'graphiql.html',
      },
    },
  },
  server: {
    proxy: {
      '/graphql': { target: adminUrl, ws: true, changeOrigin: true },
    },
  },
  preview: {
    headers: { 'Content-Security-Policy': contentSecurityPolicy },
    proxy: {
      '/graphql': { target: adminUrl, ws: true, changeOrigin: true },
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
    // A test's time limit, not a measure of speed: the files run side by
    // side, and a whole workflow in jsdom can take seconds on a busy machine.
    testTimeout: 30_000,
  },
});
