/**
 * Live permissions: which of a token's scopes the account's roles allow *now*. A scope that some
 * role names is governed — kept only while a current role allows it; scopes no role names pass.
 * The grant stays the upper bound: promotion can restore a scope the user consented to, never add one.
 */
export class RolePolicy {
  readonly #allows = new Map<string, ReadonlySet<string>>();
  readonly #governed = new Set<string>();

  constructor(roles: Readonly<Record<string, readonly string[]>>) {
    for (const [role, scopes] of Object.entries(roles)) {
      this.#allows.set(role, new Set(scopes));
      scopes.forEach((s) => this.#governed.add(s));
    }
  }

  has(role: string): boolean {
    return this.#allows.has(role);
  }

  /** The effective scope string: `granted` ∩ (ungoverned ∪ what `roles` allow), order kept. */
  effectiveScope(granted: string, roles: readonly string[]): string {
    if (!granted || this.#governed.size === 0) return granted;
    return granted
      .split(' ')
      .filter((scope) => !this.#governed.has(scope) || roles.some((role) => this.#allows.get(role)?.has(scope)))
      .join(' ');
  }
}
