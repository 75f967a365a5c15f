import { ConfigError } from './config-error.js';
import type { LatchFileConfig } from './schema.js';

/**
 * The secrets and passwords of config/demo.json. They are published (README, docs, the compose
 * demo), so production refuses them wherever they appear. Kept here, not read from the file: the
 * production image carries no config/, and an operator's copy of the demo file must still be
 * refused. test/config/production.test.ts checks that this list covers the shipped file.
 */
export const DEMO_SECRETS: ReadonlySet<string> = new Set([
  'demo-web-secret-change-me-0123456789abcdef',
  'nightly-report-secret-change-me-0123456789',
  'orders-api-secret-change-me-0123456789abc',
  'reports-api-secret-change-me-0123456789ab',
  'security-admin-secret-change-me-0123456789',
  'alice-demo-password',
  'bob-demo-password',
]);

/** The marker of placeholder values in examples and templates. */
const PLACEHOLDER = /change-?me/i;

/** Why `value` may not be used in production, or undefined when it may. */
export function demoValueProblem(value: string): string | undefined {
  if (DEMO_SECRETS.has(value)) return 'is a published demo value (config/demo.json); set a secret of your own';
  if (PLACEHOLDER.test(value)) return 'contains "change-me": it is a placeholder; set a secret of your own';
  return undefined;
}

/**
 * Production refuses a config file holding a demo or placeholder secret or password: with the
 * demo's, anyone could sign in as its users or get an admin token with its published admin secret.
 */
export function refuseDemoValues(file: LatchFileConfig, source: string): void {
  file.clients.forEach((client, i) => {
    const problem = client.client_secret === undefined ? undefined : demoValueProblem(client.client_secret);
    if (problem) throw new ConfigError(`${source}: clients[${i}].client_secret`, `${problem} (client "${client.client_id}")`);
  });
  file.accounts.forEach((account, i) => {
    const problem = demoValueProblem(account.password);
    if (problem) throw new ConfigError(`${source}: accounts[${i}].password`, `${problem} (account "${account.username}")`);
  });
}
