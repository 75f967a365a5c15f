import type { ExchangeSubject } from '../introspection/introspect.js';

/** RFC 8693 §4.1: the acting party, with the earlier actors of a chain of exchanges nested under it. */
export interface ActClaim {
  sub: string;
  act?: ActClaim;
}

function isAct(value: unknown): value is ActClaim {
  return typeof value === 'object' && value !== null && typeof (value as { sub?: unknown }).sub === 'string';
}

/**
 * Delegation, never impersonation: every exchanged token names who acts for its subject. The actor
 * is the `actor_token`'s subject (a user's `sub`, or a client's id for its own token) when one was
 * sent, else the exchanging client. When the subject token was itself exchanged, its `act` (the
 * earlier hop) nests under the new one (§4.1: "the least recent actor is the most deeply nested").
 */
export function actClaim(clientId: string, subject: ExchangeSubject, actor: ExchangeSubject | undefined): ActClaim {
  const current: ActClaim = { sub: actor ? (actor.accountId ?? actor.clientId) : clientId };
  const earlier = subject.extra.act;
  if (isAct(earlier)) current.act = earlier;
  return current;
}
