/**
 * The one logging call the middleware makes: a warning when Latch cannot be asked. The shape is
 * pino's (`logger.warn(details, message)`), so a pino or similar logger can be passed as is.
 * Details never hold a token, a secret or an Authorization header: only statuses and error codes.
 */
export interface Logger {
  warn(details: Record<string, unknown>, message: string): void;
}

export const stderrLogger: Logger = {
  warn(details, message) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', name: 'latch-resource-server', msg: message, ...details })}\n`);
  },
};
