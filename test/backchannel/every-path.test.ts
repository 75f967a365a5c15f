import * as oidc from 'openid-client';
import { adminCall, adminToken, jobDone } from '../support/admin.js';
import { backchannelConfig, decoded, FLEET_SECRET, passwordOf, summary, type User } from '../support/backchannel.js';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { startLogoutReceiver, type LogoutReceiver } from '../support/logout-receiver.js';
import { clientFor, logIn, postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * OIDC Back-Channel Logout 1.0 on every path: whatever ends a session or grant of a client that
 * registered a backchannel_logout_uri, that client's endpoint (a real HTTP server here) receives a
 * logout token naming exactly the RP session that ended, which the test verifies with jose against
 * Latch's JWKS and the spec's required claims. And no other client hears anything.
 */
let redis: TestRedis;
let latch: TestLatch;
let receiver: LogoutReceiver;
let admin: string;

const LONDON = { 'cf-iplatitude': '51.5074', 'cf-iplongitude': '-0.1278', 'cf-ipcity': 'London', 'cf-ipcountry': 'GB' };
const TOKYO = { 'cf-iplatitude': '35.6762', 'cf-iplongitude': '139.6503', 'cf-ipcity': 'Tokyo', 'cf-ipcountry': 'JP' };

const CLIENTS = {
  web: () => clientFor(latch.url, 'web', SECRETS.web),
  'other-web': () => clientFor(latch.url, 'other-web', SECRETS.other),
  'fleet-web': () => clientFor(latch.url, 'fleet-web', FLEET_SECRET),
  spa: () => clientFor(latch.url, 'spa'),
};
type ClientName = keyof typeof CLIENTS;
const SCOPES: Record<ClientName, string> = {
  web: 'openid email offline_access a:read',
  'other-web': 'openid offline_access a:read',
  'fleet-web': 'openid email offline_access a:read',
  spa: 'openid offline_access a:read',
};

/** `user` signs in to `client` (in `browser`, a new one by default); returns the tokens and the ID token's sid. */
async function signIn(user: User, client: ClientName, options: { browser?: BrowserSession; scope?: string; loginHeaders?: Record<string, string> } = {}) {
  const config = await CLIENTS[client]();
  const { tokens, browser } = await logIn(latch.url, config, {
    username: user,
    password: passwordOf(user),
    scope: options.scope ?? SCOPES[client],
    browser: options.browser,
    loginHeaders: options.loginHeaders,
  });
  return { config, tokens, browser, sid: tokens.claims()?.sid as string | undefined };
}

/** The logout tokens `action` caused, once `count` have arrived and nothing more came for a moment. */
async function logoutsOf(count: number, action: () => Promise<unknown>) {
  const before = receiver.received.length;
  await action();
  await receiver.waitFor(before + count);
  await new Promise((r) => setTimeout(r, 300));
  return summary(await decoded(latch, receiver.received.slice(before)));
}

async function adminWrite(path: string, body: Record<string, unknown> = {}) {
  const { status, json } = await adminCall(latch.url, 'POST', path, admin, { reason: 'test: back-channel', ...body });
  expect({ status, json }).toMatchObject({ status: 200 });
  return json!;
}

/** Signs `user` in to the devices page in `browser`; returns the page. */
async function devicesPage(user: User, browser = new BrowserSession()) {
  let page = await browser.follow(`${latch.url}/account/devices`, latch.url);
  if (page.html?.includes('/login"')) {
    const response = await browser.submit(page.url, page.html, '/login', { username: user, password: passwordOf(user) });
    page = await browser.follow(new URL(response.headers.get('location')!, page.url).href, latch.url);
  }
  expect(page.url).toBe(`${latch.url}/account/devices`);
  return { browser, page };
}

/** Presses End on the devices page row of `clientName`. */
async function end(browser: BrowserSession, page: { url: string; html?: string }, clientName: string) {
  const row = [...page.html!.matchAll(/<tr>[\s\S]*?<\/tr>/g)].map((m) => m[0]).find((r) => r.includes(clientName))!;
  const action = /action="([^"]+\/end)"/.exec(row)![1]!;
  const ended = await browser.submit(page.url, row.replace(/^<tr>/, `<form action="${action}">`).replace(/<\/tr>$/, '</form>'), '/end');
  expect(ended.status).toBe(303);
}

beforeAll(async () => {
  redis = await startRedis();
  receiver = await startLogoutReceiver();
  latch = await startLatch(redis.url, { file: backchannelConfig(receiver.url) });
  admin = await adminToken(latch.url);
}, 30_000);
afterAll(async () => {
  await latch?.close();
  await receiver?.close();
  await redis?.close();
});

describe('registration and discovery', () => {
  it('discovery advertises back-channel logout with sessions (OIDC Back-Channel Logout 1.0 §2.1)', async () => {
    const discovery = (await (await fetch(`${latch.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({ backchannel_logout_supported: true, backchannel_logout_session_supported: true });
  });

  it("puts sid in the ID tokens of a client with a back-channel URI, whether or not it requires sid, and not in others'", async () => {
    expect((await signIn('mallory', 'web')).sid).toMatch(/^[\w-]{10,}$/);
    expect((await signIn('mallory', 'other-web')).sid).toMatch(/^[\w-]{10,}$/);
    expect((await signIn('mallory', 'spa')).sid).toBeUndefined();
  });
});

describe('a logout token is sent when', () => {
  it('the user signs out at Latch (RP-initiated logout): to every app of that browser session, by sid, as a form POST', async () => {
    const web = await signIn('alice', 'web');
    const other = await signIn('alice', 'other-web', { browser: web.browser });
    await signIn('alice', 'spa', { browser: web.browser });
    const before = receiver.received.length;
    const logouts = await logoutsOf(2, async () => {
      const page = await web.browser.follow(`${latch.url}/session/end?client_id=web`, latch.url);
      expect(page.html).toContain('Yes, sign me out');
      expect((await web.browser.submit(page.url, page.html!, '/session/end/confirm', { logout: 'yes' })).status).toBe(303);
    });
    expect(logouts).toEqual([
      { client: 'other-web', sub: 'sub-alice', sid: other.sid },
      { client: 'web', sub: 'sub-alice', sid: web.sid },
    ]);
    const request = receiver.received[before]!;
    expect(request.headers).toMatchObject({ 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Latch' });
    expect([...new URLSearchParams(request.body).keys()]).toEqual(['logout_token']);
  });

  it('the client revokes its refresh token (RFC 7009): to that client only', async () => {
    const web = await signIn('alice', 'web');
    await signIn('alice', 'other-web', { browser: web.browser });
    const logouts = await logoutsOf(1, () => postForm(`${latch.url}/revoke`, { token: web.tokens.refresh_token! }, ['web', SECRETS.web]));
    expect(logouts).toEqual([{ client: 'web', sub: 'sub-alice', sid: web.sid }]);
  });

  it('a refresh token is used twice (reuse kills the grant), even after the browser session is gone', async () => {
    const web = await signIn('carol', 'web');
    // The browser session ends without ending this offline grant: only the remembered sid names it now.
    const page = await web.browser.follow(`${latch.url}/session/end?client_id=web`, latch.url);
    await logoutsOf(1, () => web.browser.submit(page.url, page.html!, '/session/end/confirm', { logout: 'yes' }));
    await oidc.refreshTokenGrant(web.config, web.tokens.refresh_token!);
    const logouts = await logoutsOf(1, () => expect(oidc.refreshTokenGrant(web.config, web.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' }));
    expect(logouts).toEqual([{ client: 'web', sub: 'sub-carol', sid: web.sid }]);
  });

  it('the user presses End on the devices page: to the ended app, and to the other apps of the browser session it ended', async () => {
    const web = await signIn('dave', 'web');
    const sameBrowser = await signIn('dave', 'other-web', { browser: web.browser });
    const elsewhere = await signIn('dave', 'other-web');
    const { browser, page } = await devicesPage('dave');
    const logouts = await logoutsOf(2, () => end(browser, page, 'Web App'));
    expect(logouts).toEqual([
      { client: 'other-web', sub: 'sub-dave', sid: sameBrowser.sid },
      { client: 'web', sub: 'sub-dave', sid: web.sid },
    ]);
    expect(logouts.map((l) => l.sid)).not.toContain(elsewhere.sid);
  });

  it('the user presses "Log out of all devices": to every app of every device', async () => {
    const phone = await signIn('erin', 'web');
    const laptop = await signIn('erin', 'other-web');
    const tablet = await signIn('erin', 'web');
    await signIn('erin', 'spa');
    const { browser, page } = await devicesPage('erin');
    const logouts = await logoutsOf(3, async () => {
      const done = await browser.submit(page.url, page.html!, '/account/logout-all');
      expect(done.status).toBe(200);
    });
    expect(logouts).toEqual(
      summary([
        { client: 'web', sub: 'sub-erin', sid: phone.sid, jti: '' },
        { client: 'other-web', sub: 'sub-erin', sid: laptop.sid, jti: '' },
        { client: 'web', sub: 'sub-erin', sid: tablet.sid, jti: '' },
      ]),
    );
  });

  it('an admin revokes the user', async () => {
    const web = await signIn('frank', 'web');
    const other = await signIn('frank', 'other-web');
    const logouts = await logoutsOf(2, () => adminWrite('/admin/accounts/frank/revoke'));
    expect(logouts).toEqual([
      { client: 'other-web', sub: 'sub-frank', sid: other.sid },
      { client: 'web', sub: 'sub-frank', sid: web.sid },
    ]);
  });

  it('an admin revokes one session: like End', async () => {
    const web = await signIn('grace', 'web');
    await signIn('grace', 'other-web');
    const { json } = await adminCall(latch.url, 'GET', '/admin/accounts/grace/sessions', admin);
    const session = (json!.sessions as Array<{ id: string; client_id: string }>).find((s) => s.client_id === 'web')!;
    const logouts = await logoutsOf(1, () => adminWrite(`/admin/accounts/grace/sessions/${session.id}/revoke`));
    expect(logouts).toEqual([{ client: 'web', sub: 'sub-grace', sid: web.sid }]);
  });

  it("an admin revokes one client for the user: that client only (the browser session, and the user's other apps, go on)", async () => {
    const web = await signIn('heidi', 'web');
    await signIn('heidi', 'other-web', { browser: web.browser });
    const logouts = await logoutsOf(1, () => adminWrite('/admin/accounts/heidi/clients/web/revoke'));
    expect(logouts).toEqual([{ client: 'web', sub: 'sub-heidi', sid: web.sid }]);
  });

  it("an admin revokes a whole client: every user's session of it, through the durable fan-out, and the cleanup job finishes", async () => {
    const ivan = await signIn('ivan', 'fleet-web');
    const judy = await signIn('judy', 'fleet-web');
    await signIn('judy', 'web', { browser: judy.browser });
    let job = '';
    const logouts = await logoutsOf(2, async () => {
      job = (await adminWrite('/admin/clients/fleet-web/revoke')).job as string;
    });
    expect(logouts).toEqual(
      summary([
        { client: 'fleet-web', sub: 'sub-ivan', sid: ivan.sid, jti: '' },
        { client: 'fleet-web', sub: 'sub-judy', sid: judy.sid, jti: '' },
      ]),
    );
    expect(await jobDone(latch.url, admin, job)).toMatchObject({ state: 'done', total: 2, done: 2 });
  });

  it('an admin disables the account', async () => {
    const web = await signIn('niaj', 'web');
    const logouts = await logoutsOf(1, () => adminWrite('/admin/accounts/niaj/disable'));
    expect(logouts).toEqual([{ client: 'web', sub: 'sub-niaj', sid: web.sid }]);
  });

  it('an admin deletes the account', async () => {
    const other = await signIn('olivia', 'other-web');
    const logouts = await logoutsOf(1, () => adminWrite('/admin/accounts/olivia/delete'));
    expect(logouts).toEqual([{ client: 'other-web', sub: 'sub-olivia', sid: other.sid }]);
  });

  it('an admin revokes one token by value: its grant ends', async () => {
    const web = await signIn('alice', 'web');
    const logouts = await logoutsOf(1, () => adminWrite('/admin/tokens/revoke', { token: web.tokens.access_token }));
    expect(logouts).toEqual([{ client: 'web', sub: 'sub-alice', sid: web.sid }]);
  });

  it('Latch stops a login for impossible travel and signs the account out everywhere', async () => {
    const london = await signIn('peggy', 'web', { loginHeaders: LONDON });
    const logouts = await logoutsOf(1, () => expect(signIn('peggy', 'other-web', { loginHeaders: TOKYO })).rejects.toThrow(/login step failed with 403/));
    expect(logouts).toEqual([{ client: 'web', sub: 'sub-peggy', sid: london.sid }]);
  });
});

describe('a logout token is never sent', () => {
  it('to a client whose session did not end, nor twice for a session an earlier revocation ended', async () => {
    const other = await signIn('carol', 'other-web');
    const before = receiver.received.length;
    await adminWrite('/admin/accounts/carol/clients/web/revoke');
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.length).toBe(before);
    expect(await logoutsOf(1, () => adminWrite('/admin/accounts/carol/revoke'))).toEqual([{ client: 'other-web', sub: 'sub-carol', sid: other.sid }]);
    await adminWrite('/admin/accounts/carol/revoke');
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.length).toBe(before + 1);
  });

  it('to a client that registered no back-channel URI', async () => {
    const spa = await signIn('mallory', 'spa');
    const before = receiver.received.length;
    await postForm(`${latch.url}/revoke`, { token: spa.tokens.refresh_token!, client_id: 'spa' });
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.length).toBe(before);
  });

  it('for a token that dies while its grant lives (an access token of a client-credentials grant, a refresh that rotates)', async () => {
    const web = await signIn('mallory', 'web');
    const before = receiver.received.length;
    await oidc.refreshTokenGrant(web.config, web.tokens.refresh_token!);
    await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read' }, ['svc', SECRETS.svc]);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.length).toBe(before);
  });
});
