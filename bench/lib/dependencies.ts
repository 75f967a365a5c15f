import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The one place that says where the pieces built by other work live. A scenario whose piece is
 * missing reports `skipped: <reason>`; point the path here when a piece lands or moves.
 *
 * - The resource-server middleware (latch/resource-server): compiled with the bench build.
 * - The example API (examples/koa-api, `createOrdersApi`): compiled with the bench build; without
 *   it the resource-server scenarios run a one-route stand-in (bench/servers/rs-api.ts) and say so.
 * - The admin kill switch (POST /admin/accounts/{username}/revoke): probed at run time against
 *   the running Latch (lib/admin.ts), nothing to point at.
 */
export const RESOURCE_SERVER_MODULE = fileURLToPath(new URL('../../src/resource-server/index.js', import.meta.url));

/** Why the resource-server middleware cannot be used, or undefined when it can. */
export function resourceServerMissing(): string | undefined {
  return existsSync(RESOURCE_SERVER_MODULE) ? undefined : `resource-server middleware not built (${RESOURCE_SERVER_MODULE} missing)`;
}

export const EXAMPLE_APP_MODULE = fileURLToPath(new URL('../../examples/koa-api/app.js', import.meta.url));

/** The name the tables give the API under test. */
export function exampleApiName(): string {
  return existsSync(EXAMPLE_APP_MODULE) ? 'examples/koa-api' : 'bench stand-in API (examples/koa-api not built)';
}
