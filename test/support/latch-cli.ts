import { spawn } from 'node:child_process';
import { SECRETS } from './test-config.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `latch` command (bin/latch.js → compiled CLI) as its own process against the Latch
 * at `latchUrl`, as security-admin, with `stdin` as its standard input (`npm run build` first).
 */
export function runLatchCli(latchUrl: string, args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/latch.js', ...args], {
      env: { PATH: process.env.PATH!, LATCH_URL: latchUrl, LATCH_ADMIN_CLIENT_ID: 'security-admin', LATCH_ADMIN_CLIENT_SECRET: SECRETS.admin, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}
