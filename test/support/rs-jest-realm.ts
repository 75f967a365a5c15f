/**
 * Jest runs test code in a vm context but hands it Node's own `structuredClone`, whose results
 * belong to the outer realm: their `constructor` is not the sandbox's `Object`. oidc-provider
 * structuredClones static client metadata and then checks `jwks.keys[i].constructor === Object`,
 * so under Jest (only) every client with a `jwks` is "invalid_client_metadata". This re-creates
 * cloned plain objects and arrays in the sandbox realm; values and semantics are unchanged.
 * Call it before starting a Latch whose config has a private_key_jwt client.
 */
export function cloneIntoTestRealm(): void {
  const outerClone = globalThis.structuredClone;
  if ((outerClone as { latchRealmFix?: boolean }).latchRealmFix) return;
  const adopt = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(adopt);
    if (typeof value !== 'object' || value === null) return value;
    const proto = Object.getPrototypeOf(value) as object | null;
    const plain = proto !== null && Object.getPrototypeOf(proto) === null && (proto as { constructor?: { name?: string } }).constructor?.name === 'Object';
    if (!plain) return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, adopt(v)]));
  };
  const fixed = (<T>(value: T, options?: Parameters<typeof structuredClone>[1]): T => adopt(outerClone(value, options)) as T) as typeof structuredClone;
  Object.assign(fixed, { latchRealmFix: true });
  globalThis.structuredClone = fixed;
}
