/** The facts of the subject's sign-in an exchanged token keeps (RFC 9068 §2.2.1, RFC 9470): never newer than they were. */
export function signInFacts(extra: Record<string, unknown>): Record<string, unknown> {
  const facts: Record<string, unknown> = {};
  for (const name of ['auth_time', 'acr', 'amr'] as const) if (extra[name] !== undefined) facts[name] = extra[name];
  return facts;
}
