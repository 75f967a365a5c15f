import type { ResourceServerOptions } from 'latch/resource-server';

/** Middleware options from the environment. Defaults match config/demo.json and `npm start` on :3000. */
export function optionsFromEnv(env: NodeJS.ProcessEnv): ResourceServerOptions {
  const ttl = env.CACHE_MAX_TTL_SECONDS ? Number(env.CACHE_MAX_TTL_SECONDS) : undefined;
  // CACHE_EVENTS=ssf-push or ssf-poll: the cache hears revocations from a Shared Signals stream instead of Redis.
  const ssf = env.CACHE_EVENTS === 'ssf-push' || env.CACHE_EVENTS === 'ssf-poll' ? env.CACHE_EVENTS.slice(4) as 'push' | 'poll' : undefined;
  const events = ssf
    ? { ssf: { delivery: ssf, ...(ssf === 'push' ? { endpointUrl: `${env.PUBLIC_URL ?? `http://localhost:${env.PORT ?? 4001}`}/.well-known/latch-events` } : {}) } }
    : { redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379' };
  return {
    issuer: env.LATCH_ISSUER ?? 'http://localhost:3000',
    client: { clientId: env.API_CLIENT_ID ?? 'orders-api', clientSecret: env.API_CLIENT_SECRET ?? 'orders-api-secret-change-me-0123456789abc' },
    audience: env.API_AUDIENCE ?? 'https://orders.api.example',
    realm: 'orders',
    // Off unless asked for: every call introspects. On, revocations still win at once via Redis events.
    cache: ttl ? { maxTtlSeconds: ttl, revocationEvents: events } : false,
    // DPoP-bound tokens (RFC 9449) are accepted beside bearer tokens; DPOP=0 makes a Bearer-only API.
    dpop:
      env.DPOP === '0'
        ? false
        : {
            ...(env.API_PUBLIC_URL ? { publicUrl: env.API_PUBLIC_URL } : {}),
            ...(env.DPOP_NONCE_SECRET ? { nonce: { secret: env.DPOP_NONCE_SECRET } } : {}),
            ...(env.DPOP_REPLAY_REDIS_URL ? { replay: { redisUrl: env.DPOP_REPLAY_REDIS_URL } } : {}),
          },
  };
}
