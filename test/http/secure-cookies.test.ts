import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';

/** A BrowserSession that keeps every Set-Cookie line it received, attributes included. */
class RecordingBrowser extends BrowserSession {
  readonly setCookies: string[] = [];

  override async request(url: string, init: RequestInit = {}): Promise<Response> {
    const response = await super.request(url, init);
    this.setCookies.push(...response.headers.getSetCookie());
    return response;
  }
}

const nameOf = (line: string) => line.slice(0, line.indexOf('='));
const isSecure = (line: string) => line.split(';').slice(1).some((attr) => attr.trim().toLowerCase() === 'secure');

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.close();
});

/** A login, consent and a visit of the devices page: every cookie Latch sets on the way. */
async function cookiesOfAFlow(latch: TestLatch): Promise<string[]> {
  const browser = new RecordingBrowser();
  await logIn(latch.url, await webClient(latch.url), { browser });
  const devices = new RecordingBrowser();
  await devices.request(`${latch.url}/account/devices`);
  return [...browser.setCookies, ...devices.setCookies];
}

describe('cookies in production', () => {
  it('are all Secure, behind a TLS proxy that is not trusted (LATCH_TRUSTED_PROXIES=0)', async () => {
    const latch = await startLatch(redis.url, { production: true, trustedProxies: 0 });
    try {
      const cookies = await cookiesOfAFlow(latch);
      const names = new Set(cookies.map(nameOf));
      for (const name of ['_interaction', '_interaction_resume', '_session', 'latch.csrf', 'latch.device', 'latch.account']) expect(names).toContain(name);
      expect(cookies.filter((line) => !isSecure(line)).map(nameOf)).toEqual([]);
    } finally {
      await latch.close();
    }
  });

  it('follow the connection in development (plain-http localhost keeps working)', async () => {
    const latch = await startLatch(redis.url);
    try {
      const cookies = await cookiesOfAFlow(latch);
      expect(cookies.length).toBeGreaterThan(5);
      expect(cookies.filter(isSecure)).toEqual([]);
    } finally {
      await latch.close();
    }
  });
});
