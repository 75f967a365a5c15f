import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { z } from 'zod';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { ClientAdminDependencies } from '../admin/client-admin-routes.js';
import type { Route } from '../admin/route-table.js';
import { validate } from '../admin/route-table.js';
import { reasonBody } from '../admin/schemas.js';
import { registrationPolicySchema, type RegistrationPolicy } from '../config/schema.js';
import { InvalidRequest } from '../errors/oauth-error.js';
import { readJson } from '../http/request-body.js';
import type { ResourceServers } from '../provider/resource-servers.js';

const issueBody = z.strictObject({
  /** How many clients may be registered with it (1: one-time). */
  uses: z.number().int().min(1).max(1000).default(1),
  ttl_seconds: z.number().int().min(60).max(30 * 86_400).default(86_400),
  policy: registrationPolicySchema.default(registrationPolicySchema.parse({})),
  reason: reasonBody.shape.reason,
});

/**
 * Initial access tokens (RFC 7591 §3): what a developer presents to register a client at `/reg`.
 * Security staff issue them (admin API, CLI) with an expiry, a number of uses (one-time by
 * default) and a policy (registration.ts enforces it). The token is oidc-provider's
 * InitialAccessToken, stored by its keyed hash like every token; Latch keeps its policy and uses
 * left beside it, and spends one use per registration atomically (HINCRBY): the last use deletes
 * the token.
 */
export class InitialAccessTokens {
  readonly #store: RedisStore;
  readonly #resourceServers: ResourceServers;
  #provider: Provider | undefined;

  constructor(store: RedisStore, resourceServers: ResourceServers) {
    this.#store = store;
    this.#resourceServers = resourceServers;
  }

  /** The provider whose InitialAccessToken model holds the tokens (made after this). */
  bind(provider: Provider): void {
    this.#provider = provider;
  }

  async issue(uses: number, ttlSeconds: number, policy: RegistrationPolicy): Promise<{ value: string; expiresAt: number }> {
    const provider = this.#provider!;
    const token = new provider.InitialAccessToken({ expiresIn: ttlSeconds, policies: ['latch'] } as never);
    const value = await token.save();
    const key = this.#store.keys.initialAccessTokenPolicy(value);
    await this.#store.run(async (redis) => {
      await redis.hset(key, 'policy', JSON.stringify(policy), 'uses', String(uses));
      await redis.pexpire(key, (ttlSeconds + 15) * 1000);
    });
    return { value, expiresAt: Math.floor(Date.now() / 1000) + ttlSeconds };
  }

  /** Spends one use of the token `id`; its policy, or `invalid_token` when it has none left. */
  async spend(id: string): Promise<RegistrationPolicy> {
    const key = this.#store.keys.initialAccessTokenPolicy(id);
    const [left, policy] = await this.#store.run(async (redis) => {
      const remaining = await redis.hincrby(key, 'uses', -1);
      return [remaining, await redis.hget(key, 'policy')] as const;
    });
    if (left < 0 || !policy) {
      await this.#store.run((redis) => redis.del(key));
      throw new errors.InvalidToken('initial access token has no registrations left');
    }
    if (left === 0) {
      await this.#provider!.InitialAccessToken.adapter.destroy(id);
      await this.#store.run((redis) => redis.del(key));
    }
    return registrationPolicySchema.parse(JSON.parse(policy));
  }

  /** `POST /admin/initial-access-tokens`: a token shown once, with its uses, expiry and policy (audited without the token). */
  routes(written: ClientAdminDependencies['written']): Route[] {
    return [
      {
        method: 'POST', pattern: /^\/admin\/initial-access-tokens$/, scope: 'admin:write',
        handler: async (ctx, _params, caller) => {
          if (!this.#provider) throw new InvalidRequest('initial access tokens need registration.enabled, without registration.open, in the config');
          const body = validate(issueBody, await readJson(ctx));
          body.policy.resources.forEach((aud, i) => {
            if (!this.#resourceServers.get(aud)) throw new InvalidRequest(`policy.resources[${i}]: no resource server has audience "${aud}"`);
          });
          const known = new Set(['openid', 'offline_access', 'profile', 'email', ...this.#resourceServers.scopes()]);
          const unknown = body.policy.scope.split(' ').filter(Boolean).find((scope) => !known.has(scope));
          if (unknown) throw new InvalidRequest(`policy.scope: no resource server has scope "${unknown}"`);
          const { value, expiresAt } = await this.issue(body.uses, body.ttl_seconds, body.policy);
          const detail = { uses: body.uses, expires_at: expiresAt, policy: body.policy };
          const { audit_id } = await written(caller, 'issue-initial-access-token', 'registration', body.reason, undefined, detail);
          ctx.status = 201;
          return { initial_access_token: value, ...detail, audit_id };
        },
      },
    ];
  }
}
