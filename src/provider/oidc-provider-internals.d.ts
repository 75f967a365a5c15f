/** oidc-provider's accessor of a Provider's private state (provider-scopes.ts uses its configuration). */
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  const instance: (provider: unknown) => unknown;
  export default instance;
}
