import type autocannon from 'autocannon';
import { API, API_SCOPE, CLIENTS } from './bench-config.js';
import { basic } from './oauth.js';

/** What one request of the soak does. */
export type SoakKind = 'introspect-user' | 'introspect-cc' | 'introspect-revoked' | 'client-credentials' | 'refresh' | 'revoke';

/**
 * Requests per 100: mostly resource servers introspecting live tokens (user tokens and
 * client-credentials tokens issued during the run), some token-endpoint traffic (client
 * credentials, refresh-token rotation) and occasional RFC 7009 revocations, whose tokens are then
 * introspected too (they must answer inactive).
 */
export const SOAK_MIX: Record<SoakKind, number> = {
  'introspect-user': 43,
  'introspect-cc': 43,
  'introspect-revoked': 2,
  'client-credentials': 6,
  refresh: 4,
  revoke: 2,
};

const KINDS = Object.keys(SOAK_MIX) as SoakKind[];
const WEIGHT = KINDS.reduce((sum, k) => sum + SOAK_MIX[k], 0);
/** Issued client-credentials tokens kept for introspection, and revoked ones (newest win). */
const RING = 1000;
/** One issued client-credentials token in REVOKE_EVERY goes to revocation instead. */
const REVOKE_EVERY = 3;

const FORM = 'application/x-www-form-urlencoded';
const HEADERS: Record<SoakKind, Record<string, string>> = {
  'introspect-user': { 'content-type': FORM, authorization: basic(CLIENTS.introspector) },
  'introspect-cc': { 'content-type': FORM, authorization: basic(CLIENTS.introspector) },
  'introspect-revoked': { 'content-type': FORM, authorization: basic(CLIENTS.introspector) },
  'client-credentials': { 'content-type': FORM, authorization: basic(CLIENTS.svc) },
  refresh: { 'content-type': FORM, authorization: basic(CLIENTS.web) },
  revoke: { 'content-type': FORM, authorization: basic(CLIENTS.svc) },
};
const PATHS: Record<SoakKind, string> = {
  'introspect-user': '/introspect',
  'introspect-cc': '/introspect',
  'introspect-revoked': '/introspect',
  'client-credentials': '/token',
  refresh: '/token',
  revoke: '/revoke',
};

export interface KindCounts {
  /** Requests of this kind sent (after fallbacks). */
  sent: number;
  /** Times this kind was drawn but its pool was empty, so a user-token introspection went instead. */
  fellBack: number;
  /** 2xx answers that were not the expected one (a live token inactive, a revoked one active). */
  wrong: number;
}

interface Context {
  kind?: SoakKind;
  token?: string;
}

class Ring {
  readonly #items: string[] = [];
  #next = 0;
  get size(): number {
    return this.#items.length;
  }
  add(item: string): void {
    if (this.#items.length < RING) this.#items.push(item);
    else this.#items[this.#next++ % RING] = item;
  }
  pick(): string {
    return this.#items[Math.floor(Math.random() * this.#items.length)]!;
  }
}

function accessToken(body: string, field: 'access_token' | 'refresh_token'): string | undefined {
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The soak's traffic as one autocannon request whose `setupRequest` draws a kind and whose
 * `onResponse` feeds the token pools: issued tokens join the introspection ring or the revocation
 * queue, a refresh answer's rotated refresh token goes back to the chain queue (rotation makes a
 * refresh token single-use, so each chain has at most one refresh in flight).
 */
export class SoakTraffic {
  readonly counts = Object.fromEntries(KINDS.map((k) => [k, { sent: 0, fellBack: 0, wrong: 0 }])) as Record<SoakKind, KindCounts>;
  /** Refresh chains that ended (refresh refused or lost to a timeout): each ends its chain. */
  chainsLost = 0;
  /** The kind of the response autocannon reports next (its `response` event follows `onResponse`). */
  lastKind: SoakKind = 'introspect-user';

  readonly #userToken: () => string;
  readonly #live = new Ring();
  readonly #revoked = new Ring();
  readonly #toRevoke: string[] = [];
  readonly #refreshTokens: string[];
  #issued = 0;

  /** `userToken` picks one of the pre-written user tokens; `refreshTokens` start the chains. */
  constructor(userToken: () => string, refreshTokens: string[]) {
    this.#userToken = userToken;
    this.#refreshTokens = [...refreshTokens];
  }

  request(): autocannon.Request {
    return {
      method: 'POST',
      path: '/introspect',
      setupRequest: (req, context) => {
        const { kind, token, body } = this.#draw();
        Object.assign(context as Context, { kind, token });
        this.counts[kind].sent++;
        return { ...req, method: 'POST', path: PATHS[kind], headers: HEADERS[kind], body };
      },
      onResponse: (status, body, context) => {
        const { kind, token } = context as Context;
        if (!kind) return;
        this.lastKind = kind;
        this.#record(kind, token, status, body);
      },
    };
  }

  #draw(): { kind: SoakKind; token?: string; body: string } {
    let kind = this.#roll();
    let token: string | undefined;
    switch (kind) {
      case 'introspect-user':
        token = this.#userToken();
        break;
      case 'introspect-cc':
        token = this.#live.size ? this.#live.pick() : undefined;
        break;
      case 'introspect-revoked':
        token = this.#revoked.size ? this.#revoked.pick() : undefined;
        break;
      case 'revoke':
        token = this.#toRevoke.shift();
        break;
      case 'refresh':
        token = this.#refreshTokens.shift();
        break;
      case 'client-credentials':
        break;
    }
    if (token === undefined && kind !== 'client-credentials') {
      if (kind !== 'introspect-user') this.counts[kind].fellBack++;
      kind = 'introspect-user';
      token = this.#userToken();
    }
    const form: Record<string, string> =
      kind === 'client-credentials'
        ? { grant_type: 'client_credentials', scope: API_SCOPE, resource: API }
        : kind === 'refresh'
          ? { grant_type: 'refresh_token', refresh_token: token!, resource: API }
          : kind === 'revoke'
            ? { token: token!, token_type_hint: 'access_token' }
            : { token: token! };
    return { kind, token, body: new URLSearchParams(form).toString() };
  }

  #roll(): SoakKind {
    let r = Math.random() * WEIGHT;
    for (const kind of KINDS) {
      r -= SOAK_MIX[kind];
      if (r < 0) return kind;
    }
    return 'introspect-user';
  }

  #record(kind: SoakKind, token: string | undefined, status: number, body: string): void {
    const ok = status >= 200 && status < 300;
    if (kind === 'refresh') {
      const rotated = ok ? accessToken(body, 'refresh_token') : undefined;
      if (rotated) this.#refreshTokens.push(rotated);
      else this.chainsLost++;
    }
    if (!ok) return;
    switch (kind) {
      case 'introspect-user':
      case 'introspect-cc':
        if (!body.includes('"active":true')) this.counts[kind].wrong++;
        break;
      case 'introspect-revoked':
        if (!body.includes('"active":false')) this.counts[kind].wrong++;
        break;
      case 'client-credentials': {
        const issued = accessToken(body, 'access_token');
        if (!issued) this.counts[kind].wrong++;
        else if (++this.#issued % REVOKE_EVERY === 0 && this.#toRevoke.length < RING) this.#toRevoke.push(issued);
        else this.#live.add(issued);
        break;
      }
      case 'refresh':
        if (!accessToken(body, 'access_token')) this.counts[kind].wrong++;
        break;
      case 'revoke':
        this.#revoked.add(token!);
        break;
    }
  }
}
