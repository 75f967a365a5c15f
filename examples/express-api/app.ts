import express, { type Express } from 'express';
import type { AuthInfo, ExpressResourceServer } from 'latch/resource-server';
import { Orders } from './orders.js';

/** What this token may do right now: Latch is asked on every call, so this is live. */
export const permissions = (auth: AuthInfo) => ({
  sub: auth.sub ?? null,
  username: typeof auth.claims.preferred_username === 'string' ? auth.claims.preferred_username : null,
  clientId: auth.clientId,
  scopes: auth.scopes,
  roles: auth.roles,
  expiresAt: auth.exp ? new Date(auth.exp * 1000).toISOString() : null,
});

/** How recent a sign-in changing the delivery address needs (seconds; RFC 9470 step-up). */
export const ADDRESS_MAX_AGE_SECONDS = 300;

/** The same Orders API as examples/koa-api, in Express 5. */
export function createOrdersApi(api: ExpressResourceServer, orders = new Orders(), addressMaxAgeSeconds = ADDRESS_MAX_AGE_SECONDS): Express {
  const app = express();
  app.get('/healthz', (_req, res) => void res.json({ ok: true }));
  app.use(api.authenticate);
  app.get('/me', (req, res) => void res.json(permissions(req.auth!)));
  app.get('/orders', api.requireScopes('orders:read'), (req, res) => {
    const { sub } = req.auth!;
    res.json({ orders: sub ? orders.of(sub) : orders.all(), permissions: permissions(req.auth!) });
  });
  app.post('/orders', api.requireScopes('orders:write'), express.json({ limit: '16kb' }), (req, res) => {
    const { sub } = req.auth!;
    const item = (req.body as { item?: unknown } | undefined)?.item;
    if (!sub) return void res.status(403).json({ error: 'only users place orders' });
    if (typeof item !== 'string' || !item.trim() || item.length > 100) return void res.status(400).json({ error: 'item must be a non-empty string (max 100)' });
    res.status(201).json(orders.place(sub, item.trim()));
  });
  app.get('/address', api.requireScopes('orders:read'), (req, res) => void res.json({ address: orders.addressOf(req.auth!.sub ?? '') }));
  // Changing where orders go is sensitive: a recent sign-in, or 401 insufficient_user_authentication.
  app.put('/address', api.requireScopes('orders:write'), api.requireAuthentication({ maxAgeSeconds: addressMaxAgeSeconds }), express.json({ limit: '16kb' }), (req, res) => {
    const address = (req.body as { address?: unknown } | undefined)?.address;
    if (typeof address !== 'string' || !address.trim() || address.length > 200) return void res.status(400).json({ error: 'address must be a non-empty string (max 200)' });
    res.json({ address: orders.setAddress(req.auth!.sub!, address.trim()) });
  });
  app.get('/admin/orders', api.requireRole('admin'), (_req, res) => void res.json({ orders: orders.all() }));
  return app;
}
