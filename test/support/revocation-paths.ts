import * as oidc from 'openid-client';
import type { LatchFileConfig } from '../../src/config/schema.js';
import { adminCall } from './admin.js';
import { BrowserSession } from './browser-session.js';
import { clientFor, logIn, postForm } from './oauth.js';
import { RS_SECRETS } from './rs-config.js';
import type { TestLatch } from './latch-server.js';
import type { TestRedis } from './redis-server.js';
import { serviceToken } from './rs-tokens.js';

/**
 * The revocation paths of test/revocation/published.test.ts as a table, for tests that check every
 * kind of revocation reaches a cached resource server through another event source (Shared
 * Signals push and poll). Each path signs someone in (or gets a machine token), then revokes the
 * way a user, a client, an admin or Latch itself does. Paths that end an account for good use an
 * account of their own, named `<user>-<suffix>`, so several event sources can each run every path.
 */
export interface PathContext {
  latch: TestLatch;
  redis: TestRedis;
  admin: string;
}

export interface RevocationPath {
  name: string;
  /** The account the path uses (before the suffix), if any. */
  user?: string;
  /** Makes the token whose cached answer must die; returns it and the revocation to run. */
  prepare(ctx: PathContext, suffix: string): Promise<{ token: string; revoke: () => Promise<void> }>;
}

const password = (username: string) => `${username}-password-1`;

/** The accounts the paths use, for each suffix (add them to the config's accounts). */
export function pathAccounts(suffixes: string[]): LatchFileConfig['accounts'] {
  const users = [...new Set(REVOCATION_PATHS.map((p) => p.user).filter((u): u is string => u !== undefined))];
  return suffixes.flatMap((suffix) => users.map((u) => ({ sub: `sub-${u}-${suffix}`, username: `${u}-${suffix}`, password: password(`${u}-${suffix}`), roles: ['viewer'] })));
}

async function signIn(latch: TestLatch, username: string, options: { scope?: string; loginHeaders?: Record<string, string> } = {}) {
  const client = await clientFor(latch.url, 'orders-web', RS_SECRETS.ordersWeb);
  const { tokens, browser } = await logIn(latch.url, client, {
    scope: options.scope ?? 'openid offline_access orders:read orders:write',
    username,
    password: password(username),
    loginHeaders: options.loginHeaders,
  });
  return { client, browser, access: tokens.access_token, refresh: tokens.refresh_token! };
}

async function adminWrite(ctx: PathContext, path: string): Promise<Record<string, unknown>> {
  const { status, json } = await adminCall(ctx.latch.url, 'POST', path, ctx.admin, { reason: 'test: revocation path' });
  if (status !== 200) throw new Error(`${path}: ${status} ${JSON.stringify(json)}`);
  return json!;
}

async function devicesPage(latch: TestLatch, username: string) {
  const browser = new BrowserSession();
  let page = await browser.follow(`${latch.url}/account/devices`, latch.url);
  const response = await browser.submit(page.url, page.html!, '/login', { username, password: password(username) });
  page = await browser.follow(new URL(response.headers.get('location')!, page.url).href, latch.url);
  return { browser, page };
}

async function revokeForm(latch: TestLatch, form: Record<string, string>, client: 'orders-web' | 'svc-orders' = 'orders-web') {
  const secret = client === 'orders-web' ? RS_SECRETS.ordersWeb : RS_SECRETS.svcOrders;
  const { status } = await postForm(`${latch.url}/revoke`, form, [client, secret]);
  if (status !== 200) throw new Error(`RFC 7009 answered ${status}`);
}

const LONDON = { 'cf-iplatitude': '51.5074', 'cf-iplongitude': '-0.1278', 'cf-ipcity': 'London', 'cf-ipcountry': 'GB' };
const TOKYO = { 'cf-iplatitude': '35.6762', 'cf-iplongitude': '139.6503', 'cf-ipcity': 'Tokyo', 'cf-ipcountry': 'JP' };

export const REVOCATION_PATHS: RevocationPath[] = [
  {
    name: 'RFC 7009 of a refresh token',
    user: 'rfc-rt',
    async prepare({ latch }, suffix) {
      const { access, refresh } = await signIn(latch, `rfc-rt-${suffix}`);
      return { token: access, revoke: () => revokeForm(latch, { token: refresh, token_type_hint: 'refresh_token' }) };
    },
  },
  {
    name: 'RFC 7009 of a sibling access token',
    user: 'rfc-at',
    async prepare({ latch }, suffix) {
      const { client, access, refresh } = await signIn(latch, `rfc-at-${suffix}`);
      const sibling = (await oidc.refreshTokenGrant(client, refresh)).access_token;
      return { token: sibling, revoke: () => revokeForm(latch, { token: access }) };
    },
  },
  {
    name: 'RFC 7009 of a client-credentials token',
    async prepare({ latch }) {
      const token = await serviceToken(latch.url);
      return { token, revoke: () => revokeForm(latch, { token }, 'svc-orders') };
    },
  },
  {
    name: 'refresh token reuse',
    user: 'reuse',
    async prepare({ latch }, suffix) {
      const { client, refresh } = await signIn(latch, `reuse-${suffix}`);
      const rotated = await oidc.refreshTokenGrant(client, refresh);
      return { token: rotated.access_token, revoke: async () => void (await oidc.refreshTokenGrant(client, refresh).catch(() => undefined)) };
    },
  },
  {
    name: 'RP-initiated logout',
    user: 'logout',
    async prepare({ latch }, suffix) {
      const { browser, access } = await signIn(latch, `logout-${suffix}`, { scope: 'openid orders:read' });
      return {
        token: access,
        async revoke() {
          const page = await browser.follow(`${latch.url}/session/end?client_id=orders-web`, latch.url);
          const confirmed = await browser.submit(page.url, page.html!, '/session/end/confirm', { logout: 'yes' });
          if (confirmed.status !== 303) throw new Error(`logout answered ${confirmed.status}`);
        },
      };
    },
  },
  {
    name: 'admin revoke-token of a sibling',
    user: 'revtok',
    async prepare(ctx, suffix) {
      const { client, access, refresh } = await signIn(ctx.latch, `revtok-${suffix}`);
      const sibling = (await oidc.refreshTokenGrant(client, refresh)).access_token;
      return {
        token: sibling,
        revoke: async () => {
          const { status } = await adminCall(ctx.latch.url, 'POST', '/admin/tokens/revoke', ctx.admin, { token: access, reason: 'test: revocation path' });
          if (status !== 200) throw new Error(`revoke-token answered ${status}`);
        },
      };
    },
  },
  {
    name: 'admin revoke-session',
    user: 'session',
    async prepare(ctx, suffix) {
      const username = `session-${suffix}`;
      const { access } = await signIn(ctx.latch, username);
      const { json } = await adminCall(ctx.latch.url, 'GET', `/admin/accounts/${username}/sessions`, ctx.admin);
      const session = (json!.sessions as Array<{ id: string }>)[0]!;
      return { token: access, revoke: async () => void (await adminWrite(ctx, `/admin/accounts/${username}/sessions/${session.id}/revoke`)) };
    },
  },
  {
    name: 'admin revoke-user',
    user: 'revuser',
    async prepare(ctx, suffix) {
      const { access } = await signIn(ctx.latch, `revuser-${suffix}`);
      return { token: access, revoke: async () => void (await adminWrite(ctx, `/admin/accounts/revuser-${suffix}/revoke`)) };
    },
  },
  {
    name: 'admin revoke-user-client',
    user: 'revclient',
    async prepare(ctx, suffix) {
      const { access } = await signIn(ctx.latch, `revclient-${suffix}`);
      return { token: access, revoke: async () => void (await adminWrite(ctx, `/admin/accounts/revclient-${suffix}/clients/orders-web/revoke`)) };
    },
  },
  {
    name: 'admin revoke-client',
    async prepare(ctx) {
      const token = await serviceToken(ctx.latch.url);
      return { token, revoke: async () => void (await adminWrite(ctx, '/admin/clients/svc-orders/revoke')) };
    },
  },
  {
    name: 'admin disable',
    user: 'disable',
    async prepare(ctx, suffix) {
      const { access } = await signIn(ctx.latch, `disable-${suffix}`);
      return { token: access, revoke: async () => void (await adminWrite(ctx, `/admin/accounts/disable-${suffix}/disable`)) };
    },
  },
  {
    name: 'admin delete',
    user: 'delete',
    async prepare(ctx, suffix) {
      const { access } = await signIn(ctx.latch, `delete-${suffix}`);
      return { token: access, revoke: async () => void (await adminWrite(ctx, `/admin/accounts/delete-${suffix}/delete`)) };
    },
  },
  {
    name: 'devices page End',
    user: 'end',
    async prepare({ latch }, suffix) {
      const username = `end-${suffix}`;
      const { access } = await signIn(latch, username);
      return {
        token: access,
        async revoke() {
          const { browser, page } = await devicesPage(latch, username);
          const row = [...page.html!.matchAll(/<tr>[\s\S]*?<\/tr>/g)].map((m) => m[0]).find((r) => r.includes('Orders Web'))!;
          const action = /action="([^"]+\/end)"/.exec(row)![1]!;
          const ended = await browser.submit(page.url, row.replace(/^<tr>/, `<form action="${action}">`).replace(/<\/tr>$/, '</form>'), '/end');
          if (ended.status !== 303) throw new Error(`End answered ${ended.status}`);
        },
      };
    },
  },
  {
    name: 'devices page Log out of all devices',
    user: 'logoutall',
    async prepare({ latch }, suffix) {
      const username = `logoutall-${suffix}`;
      const { access } = await signIn(latch, username);
      return {
        token: access,
        async revoke() {
          const { browser, page } = await devicesPage(latch, username);
          const done = await browser.submit(page.url, page.html!, '/account/logout-all');
          if (done.status !== 200) throw new Error(`log out of all devices answered ${done.status}`);
        },
      };
    },
  },
  {
    name: 'impossible travel',
    user: 'travel',
    async prepare({ latch, redis }, suffix) {
      const username = `travel-${suffix}`;
      const london = await signIn(latch, username, { loginHeaders: LONDON });
      return {
        token: london.access,
        async revoke() {
          const key = latch.store.keys.accountLogins(`sub-${username}`);
          const last = JSON.parse((await redis.client.lindex(key, 0))!);
          await redis.client.lset(key, 0, JSON.stringify({ ...last, at: last.at - 5 * 60_000 }));
          await signIn(latch, username, { loginHeaders: TOKYO }).then(
            () => {
              throw new Error('the Tokyo login was not refused');
            },
            () => undefined,
          );
        },
      };
    },
  },
];
