import type { AdapterPayload } from 'oidc-provider';
import type { IdCipher } from './id-cipher.js';

/**
 * What an Interaction record would hold in clear and must not: oidc-provider copies the browser
 * session's id (the `_session` cookie value) into `session.cookie`, and its own id (the
 * `_interaction` cookie value) ends `returnTo`. The session id is sealed (like a Session's `_sid`);
 * the own id is dropped, since every read of an Interaction is a find by that id.
 */
interface InteractionPayload extends AdapterPayload {
  session?: { cookie?: string; _cookie?: string } & Record<string, unknown>;
  returnTo?: string;
  /** `returnTo` ended with the id, dropped on write. */
  _rt?: 1;
}

export function sealInteraction(payload: AdapterPayload, id: string, cipher: IdCipher): void {
  const p = payload as InteractionPayload;
  if (p.session?.cookie) {
    const { cookie, ...session } = p.session;
    p.session = { ...session, _cookie: cipher.seal(cookie) };
  }
  if (p.returnTo?.endsWith(`/${id}`)) {
    p.returnTo = p.returnTo.slice(0, -id.length);
    p._rt = 1;
  }
}

export function openInteraction(payload: AdapterPayload, id: string, cipher: IdCipher): void {
  const p = payload as InteractionPayload;
  if (p.session?._cookie) {
    const { _cookie, ...session } = p.session;
    p.session = { ...session, cookie: cipher.open(_cookie) };
  }
  if (p._rt) {
    p.returnTo = `${p.returnTo}${id}`;
    delete p._rt;
  }
}
