import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The one place that says where the pieces built by other work live. A scenario whose piece is
 * missing reports `skipped: <reason>`; point the path here when a piece lands or moves.
 *
 * - The resource-server middleware (latch/resource-server): compiled with the bench build.
 * - The admin kill switch (POST /admin/accounts/{username}/revoke): probed at run time against
 *   the running Latch (lib/admin.ts), nothing to point at.
 */
export const RESOURCE_SERVER_MODULE = fileURLToPath(new URL('../../src/resource-server/index.js', import.meta.url));

/** Why the resource-server middleware cannot be used, or undefined when it can. */
export function resourceServerMissing(): string | undefined {
  return existsSync(RESOURCE_SERVER_MODULE) ? undefined : `resource-server middleware not built (${RESOURCE_SERVER_MODULE} missing)`;
}
