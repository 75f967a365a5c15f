import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateKeyPair, exportJWK, type JWK } from 'jose';
import { ConfigError } from './config-error.js';

/** Keys every instance of one deployment must share. */
export interface Secrets {
  /** Private signing keys (JWKS) for ID tokens and JWT introspection responses. */
  jwks: { keys: JWK[] };
  /** Keys for signing cookies; the first signs, all verify (rotation). */
  cookieKeys: string[];
  /** Key for the HMAC that turns token values into storage keys. */
  tokenHashKey: Buffer;
  /**
   * The 32 bytes every DPoP nonce is derived from (oidc-provider's `features.dPoP.nonceSecret`):
   * SHA-256 of LATCH_DPOP_NONCE_SECRET, so every instance hands out and accepts the same nonces.
   */
  dpopNonceSecret: Buffer;
  /** True when the keys were generated for development. */
  generated: boolean;
}

type Env = Record<string, string | undefined>;

const MIN_KEY_CHARS = 32;

function parseJwks(raw: string): { keys: JWK[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('LATCH_JWKS', 'is not valid JSON');
  }
  const keys = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new ConfigError('LATCH_JWKS', 'must be a JSON Web Key Set with at least one key ({"keys":[...]})');
  }
  keys.forEach((key: JWK, i) => {
    if (typeof key !== 'object' || key === null || !key.kty) {
      throw new ConfigError(`LATCH_JWKS.keys[${i}]`, 'is not a JWK (missing "kty")');
    }
    if (!key.d) {
      throw new ConfigError(`LATCH_JWKS.keys[${i}]`, 'must be a private key (missing "d")');
    }
  });
  return { keys };
}

function parseCookieKeys(raw: string): string[] {
  const keys = raw.split(',').map((k) => k.trim()).filter(Boolean);
  if (keys.length === 0) throw new ConfigError('LATCH_COOKIE_KEYS', 'must list at least one key');
  keys.forEach((key, i) => {
    if (key.length < MIN_KEY_CHARS) {
      throw new ConfigError(`LATCH_COOKIE_KEYS[${i}]`, `must be at least ${MIN_KEY_CHARS} characters`);
    }
  });
  return keys;
}

function parseTokenHashKey(raw: string): Buffer {
  if (raw.length < MIN_KEY_CHARS) {
    throw new ConfigError('LATCH_TOKEN_HASH_KEY', `must be at least ${MIN_KEY_CHARS} characters`);
  }
  return Buffer.from(raw, 'utf8');
}

/** oidc-provider takes exactly 32 bytes; any secret of ≥ 32 characters is hashed to them. */
export function parseDpopNonceSecret(raw: string): Buffer {
  if (raw.length < MIN_KEY_CHARS) {
    throw new ConfigError('LATCH_DPOP_NONCE_SECRET', `must be at least ${MIN_KEY_CHARS} characters`);
  }
  return createHash('sha256').update(raw, 'utf8').digest();
}

interface DevSecrets {
  jwks: { keys: JWK[] };
  cookieKeys: string[];
  tokenHashKey: string;
  /** Absent from dev keys files written before DPoP nonces: added on the next start. */
  dpopNonceSecret?: string;
}

async function generateDevSecrets(): Promise<DevSecrets> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return {
    jwks: { keys: [{ ...jwk, alg: 'RS256', use: 'sig', kid: randomBytes(8).toString('hex') }] },
    cookieKeys: [randomBytes(32).toString('base64url')],
    tokenHashKey: randomBytes(32).toString('base64url'),
    dpopNonceSecret: randomBytes(32).toString('base64url'),
  };
}

/**
 * Production reads every key from the environment and refuses to start without them.
 * Development generates missing keys once and keeps them in `devKeysFile`, so tokens stay valid
 * across restarts of a developer's server.
 */
export async function loadSecrets(env: Env, production: boolean, devKeysFile: string): Promise<Secrets> {
  const given = {
    jwks: env.LATCH_JWKS ? parseJwks(env.LATCH_JWKS) : undefined,
    cookieKeys: env.LATCH_COOKIE_KEYS ? parseCookieKeys(env.LATCH_COOKIE_KEYS) : undefined,
    tokenHashKey: env.LATCH_TOKEN_HASH_KEY ? parseTokenHashKey(env.LATCH_TOKEN_HASH_KEY) : undefined,
    dpopNonceSecret: env.LATCH_DPOP_NONCE_SECRET ? parseDpopNonceSecret(env.LATCH_DPOP_NONCE_SECRET) : undefined,
  };
  if (given.jwks && given.cookieKeys && given.tokenHashKey && given.dpopNonceSecret) {
    return { jwks: given.jwks, cookieKeys: given.cookieKeys, tokenHashKey: given.tokenHashKey, dpopNonceSecret: given.dpopNonceSecret, generated: false };
  }
  if (production) {
    const missing = [
      !given.jwks && 'LATCH_JWKS',
      !given.cookieKeys && 'LATCH_COOKIE_KEYS',
      !given.tokenHashKey && 'LATCH_TOKEN_HASH_KEY',
      !given.dpopNonceSecret && 'LATCH_DPOP_NONCE_SECRET',
    ].filter(Boolean);
    throw new ConfigError(missing.join(', '), 'required when NODE_ENV=production (Latch never generates production keys)');
  }

  let dev: DevSecrets;
  if (existsSync(devKeysFile)) {
    dev = JSON.parse(readFileSync(devKeysFile, 'utf8')) as DevSecrets;
    if (dev.dpopNonceSecret === undefined) {
      dev.dpopNonceSecret = randomBytes(32).toString('base64url');
      writeFileSync(devKeysFile, JSON.stringify(dev), { mode: 0o600 });
    }
  } else {
    dev = await generateDevSecrets();
    mkdirSync(dirname(devKeysFile), { recursive: true });
    writeFileSync(devKeysFile, JSON.stringify(dev), { mode: 0o600 });
  }
  return {
    jwks: given.jwks ?? dev.jwks,
    cookieKeys: given.cookieKeys ?? dev.cookieKeys,
    tokenHashKey: given.tokenHashKey ?? Buffer.from(dev.tokenHashKey, 'utf8'),
    dpopNonceSecret: given.dpopNonceSecret ?? parseDpopNonceSecret(dev.dpopNonceSecret!),
    generated: true,
  };
}
