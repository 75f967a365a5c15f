/**
 * How a reset or set-up link reaches its user. Latch sends no mail itself: the default hands the
 * link back to the security staff who asked for it (admin API / `latch admin reset-link`), who pass
 * it on. Plug in a sender (SMTP, a mail API, a ticketing system) with LATCH_MAIL_SENDER or
 * `createLatch(…, { mailSender })` (docs/accounts.md): when it delivers, the link is not shown to
 * the caller at all.
 */
export interface PasswordLinkMessage {
  /** `setup`: the account has no password yet (created without one); `reset`: it has one. */
  kind: 'reset' | 'setup';
  sub: string;
  username: string;
  email?: string;
  /** The one-time link (a credential: whoever holds it sets the password). */
  link: string;
  /** Expiry, epoch ms. */
  expiresAt: number;
}

export interface MailSender {
  /** Delivers the link; resolves true when it did (then the admin caller does not get the link), false to hand it back. */
  send(message: PasswordLinkMessage): Promise<boolean>;
}

/** The default: delivers nothing, logs nothing; the link goes back to the admin caller only. */
export const returnLinkToCaller: MailSender = {
  async send() {
    return false;
  },
};
