import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config/config-error.js';
import type { MailSender } from './mail-sender.js';

/**
 * LATCH_MAIL_SENDER: an ES module whose default export is a MailSender (an object with
 * `send(message)`) or a function (sync or async) returning one. Loaded once at start-up; a module
 * that does not load or export one stops Latch with an error naming the variable.
 */
export async function loadMailSender(path: string): Promise<MailSender> {
  let exported: unknown;
  try {
    exported = ((await import(pathToFileURL(path).href)) as { default?: unknown }).default;
  } catch (err) {
    throw new ConfigError('LATCH_MAIL_SENDER', `cannot load ${path}: ${(err as Error).message}`);
  }
  const sender = (typeof exported === 'function' ? await (exported as () => unknown)() : exported) as Partial<MailSender> | undefined;
  if (!sender || typeof sender.send !== 'function') {
    throw new ConfigError('LATCH_MAIL_SENDER', `${path} must export as default a mail sender (an object with send(message)) or a function returning one`);
  }
  return sender as MailSender;
}
