import { startLatch, type TestLatch } from '../support/latch-server.js';
import { postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

function sample(text: string, name: string, labels: string): number {
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('GET /metrics', () => {
  it('counts requests per endpoint, introspection answers, revocations, Redis errors and Redis latency', async () => {
    const { json } = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read' }, ['svc', SECRETS.svc]);
    const token = json!.access_token as string;
    await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA]);
    await postForm(`${latch.url}/introspect`, { token: 'unknown' }, ['api-a', SECRETS.apiA]);
    await postForm(`${latch.url}/revoke`, { token }, ['svc', SECRETS.svc]);
    await fetch(`${latch.url}/interaction/${'x'.repeat(30)}`);
    await redis.stop();
    await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA]);
    await redis.start();

    const response = await fetch(`${latch.opsUrl}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(sample(text, 'latch_introspections_total', 'result="active"')).toBe(1);
    expect(sample(text, 'latch_introspections_total', 'result="inactive"')).toBe(1);
    expect(sample(text, 'latch_http_requests_total', 'route="/introspect",method="POST",status="200"')).toBe(2);
    expect(sample(text, 'latch_http_requests_total', 'route="/introspect",method="POST",status="503"')).toBe(1);
    expect(sample(text, 'latch_http_requests_total', 'route="/token",method="POST",status="200"')).toBe(1);
    expect(sample(text, 'latch_revocations_total', 'scope="token"')).toBe(1);
    expect(sample(text, 'latch_redis_errors_total', '')).toBeGreaterThanOrEqual(1);
    // Every Redis operation is timed, the failed ones included.
    expect(sample(text, 'latch_redis_operation_duration_seconds_count', '')).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'latch_redis_operation_duration_seconds_bucket', 'le="+Inf"')).toBe(sample(text, 'latch_redis_operation_duration_seconds_count', ''));
    expect(text).toMatch(/latch_http_request_duration_seconds_bucket\{le="0.005",route="\/introspect"\}/);
    // Route labels are a fixed set: ids never become label values.
    expect(text).not.toContain('x'.repeat(30));
    expect(text).toContain('route="/interaction"');
  });
});
