import { parseFileConfig } from '../../src/config/load.js';
import type { LatchFileConfig } from '../../src/config/schema.js';
import type { TestLatch } from './latch-server.js';
import { verifyLogoutToken, type LogoutReceiver } from './logout-receiver.js';
import { REDIRECT_URI, testFileConfig } from './test-config.js';

export const FLEET_SECRET = 'fleet-web-secret-0123456789abcdef0123';

/** Users each destructive test may spoil on its own. */
export const USERS = ['alice', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj', 'olivia', 'peggy'] as const;
export type User = (typeof USERS)[number];
export const passwordOf = (user: User) => `${user}-password-1`;

/**
 * testFileConfig() with back-channel logout: `web` (sid required) and `other-web` POST to
 * `<receiver>/web` and `<receiver>/other-web`, `fleet-web` (a copy of web, for revoke-client) to
 * `<receiver>/fleet-web`; `spa` registers none. A quick retry schedule, and private targets refused
 * but for the operator's own URIs (these, from the config file).
 */
export function backchannelConfig(receiver: string, overrides: Record<string, unknown> = {}): LatchFileConfig {
  const base = testFileConfig();
  const web = base.clients.find((c) => c.client_id === 'web')!;
  return parseFileConfig({
    ...base,
    accounts: [
      ...base.accounts.filter((a) => a.username !== 'alice'),
      ...USERS.map((u) => ({ sub: `sub-${u}`, username: u, password: passwordOf(u), email: `${u}@example.test`, roles: ['viewer'] })),
    ],
    clients: [
      ...base.clients.map((c) => {
        if (c.client_id === 'web') return { ...c, backchannel_logout_uri: `${receiver}/web`, backchannel_logout_session_required: true };
        if (c.client_id === 'other-web') return { ...c, backchannel_logout_uri: `${receiver}/other-web` };
        return c;
      }),
      { ...web, client_id: 'fleet-web', client_name: 'Fleet App', client_secret: FLEET_SECRET, redirect_uris: [REDIRECT_URI], backchannel_logout_uri: `${receiver}/fleet-web` },
    ],
    outbound: { allowPrivateNetworks: false, timeoutMs: 1000 },
    backchannelLogout: { initialBackoffMs: 100, maxBackoffMs: 400, pollIntervalMs: 50, visibilityTimeoutMs: 1500 },
    ...overrides,
  });
}

/** A logout as the relying party understood it, after verifying the token. */
export interface Logout {
  client: string;
  sub?: string;
  sid?: string;
  jti: string;
}

/** Verifies each received token (test/support/logout-receiver.ts) and names its client by the path. */
export async function decoded(latch: TestLatch, received: LogoutReceiver['received']): Promise<Logout[]> {
  return Promise.all(
    received.map(async (r) => {
      const client = r.path.slice(1);
      // The issuer is the configuration's (shared by instances); the keys are served by this one.
      const claims = await verifyLogoutToken(latch.config.issuer, r.token, client, `${latch.url}/jwks`);
      return { client, sub: claims.sub, sid: claims.sid, jti: claims.jti! };
    }),
  );
}

/** Logouts without their jti, sorted: what a test compares. */
export const summary = (logouts: Logout[]) =>
  logouts.map(({ client, sub, sid }) => ({ client, sub, ...(sid ? { sid } : {}) })).sort((a, b) => `${a.client}${a.sid}`.localeCompare(`${b.client}${b.sid}`));

/** Polls `check` every 20 ms until it is true, for up to `ms`. */
export async function eventually(check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await check()); ) {
    if (Date.now() > deadline) throw new Error(`not true within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
