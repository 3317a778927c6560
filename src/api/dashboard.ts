/**
 * The web dashboard (client/dashboard, built into dist/dashboard by `npm run build`) at `/`:
 * its static files, and index.html for the dashboard's own routes (/jobs/<id>, ...) so a reload
 * or a shared link works. It never answers the broker's own paths, and it sends a Content-Security-
 * Policy that allows only the bundle's own scripts, styles and connections.
 */
import fs from 'node:fs';
import path from 'node:path';
import express from 'express';

/** Paths the dashboard never answers, however the router is mounted. */
const RESERVED = /^\/(graphql|healthz|readyz|metrics)(\/|$)/;

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  // 'self' covers the same-origin ws:/wss: of the subscriptions.
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** dist/dashboard, seen from dist/src/api (built broker) or from src/api (the sources, in tests). */
export function defaultDashboardDir(): string {
  const candidates = [path.resolve(__dirname, '../../dashboard'), path.resolve(__dirname, '../../dist/dashboard')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'index.html'))) ?? candidates[0];
}

export function dashboardRouter(dir = defaultDashboardDir()): express.Router {
  const router = express.Router();
  const index = path.join(dir, 'index.html');
  const headers = (res: express.Response) => {
    res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
  };
  router.use((req, res, next) => {
    if (RESERVED.test(req.path) || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    headers(res);
    next();
  });
  router.use(
    express.static(dir, {
      index: false,
      redirect: false,
      // File names under assets/ carry a content hash.
      setHeaders: (res, file) => res.setHeader('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache'),
    }),
  );
  router.get(/.*/, (req, res, next) => {
    if (RESERVED.test(req.path) || path.extname(req.path) !== '' || !req.accepts('html')) return next();
    if (!fs.existsSync(index)) {
      res.status(503).type('text/plain').send('The dashboard is not built: run `npm run build` (npm start does).\n');
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  return router;
}
