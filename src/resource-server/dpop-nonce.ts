import { createHmac, timingSafeEqual } from 'node:crypto';

/** A nonce is one per minute; the current one and those of the two minutes before are accepted. */
const STEP_SECONDS = 60;
const PAST_STEPS = 2;

/**
 * This resource server's own DPoP nonces (RFC 9449 §9), stateless so that every instance of the API
 * issues and accepts the same ones: the nonce of a minute is an HMAC of the minute (and the API's
 * audience) under a shared secret. The first secret issues, every secret is accepted: rotate by
 * putting the new one first, and drop the old one a few minutes later.
 *
 * Accepted: the current minute's, the two before it, and the next one (an instance whose clock is a
 * little ahead may already hand it out).
 */
export class DpopNonces {
  readonly #secrets: readonly Buffer[];
  readonly #context: string;
  readonly #now: () => number;
  #step = Number.NaN;
  #accepted: Buffer[] = [];
  #current = '';

  constructor(secrets: readonly string[], context: string, now: () => number = Date.now) {
    this.#secrets = secrets.map((s) => Buffer.from(s, 'utf8'));
    this.#context = context;
    this.#now = now;
  }

  /** The longest a nonce is accepted, so the longest a proof carrying one must be remembered. */
  get lifetimeSeconds(): number {
    return (PAST_STEPS + 2) * STEP_SECONDS;
  }

  /** The nonce to hand out now (the DPoP-Nonce header). */
  current(): string {
    this.#refresh();
    return this.#current;
  }

  /** Whether `nonce` is one of ours, recent enough (constant time per candidate). */
  check(nonce: string): boolean {
    this.#refresh();
    const given = Buffer.from(nonce, 'utf8');
    let matched = false;
    for (const candidate of this.#accepted) {
      if (candidate.length === given.length && timingSafeEqual(candidate, given)) matched = true;
    }
    return matched;
  }

  /** Whether a client holding `nonce` should be given a fresher one (on a successful response, §9). */
  isCurrent(nonce: string | undefined): boolean {
    return nonce === this.current();
  }

  #nonce(secret: Buffer, step: number): string {
    return createHmac('sha256', secret).update(`latch-rs-dpop-nonce\0${this.#context}\0${step}`).digest('base64url');
  }

  #refresh(): void {
    const step = Math.floor(this.#now() / 1000 / STEP_SECONDS);
    if (step === this.#step) return;
    this.#step = step;
    this.#current = this.#nonce(this.#secrets[0]!, step);
    const steps = Array.from({ length: PAST_STEPS + 2 }, (_, i) => step + 1 - i);
    this.#accepted = this.#secrets.flatMap((secret) => steps.map((s) => Buffer.from(this.#nonce(secret, s), 'utf8')));
  }
}
