/**
 * The stored form of a token's payload (access, client-credentials and refresh tokens: most of
 * what Redis holds). oidc-provider's payload JSON spends more bytes on field names than on values,
 * so a token is stored packed:
 *
 *   ~{"i":<iat>,"e":<exp − iat>,"g":<grantId>,"y":<grant-type code>,"d":<aud>,"s":<scope>,…}
 *
 * - one-letter names (NAMES); a field without one keeps its own name (none of them is one letter);
 * - `exp` as seconds after `iat`; each grant type of `gty` (a refreshed token's is
 *   `authorization_code refresh_token`) as a one-letter code (GRANT_TYPES) when it has one;
 * - `extra` (the sign-in facts Latch adds: `auth_time`, `acr`, `amr`) packed the same way, with
 *   `auth_time` as seconds before `iat` and Latch's password `acr` as a code (EXTRA_VALUES);
 * - an access token held in a grant drops `accountId` (the grant holds it, and every read of the
 *   token reads its grant: FETCH), and `sessionUid` unless it expires with the session (nothing
 *   else reads it: oidc-provider copies it only from refresh tokens and codes into new tokens).
 *
 * `~` tells a packed payload from one written before (plain JSON, `{…}`): both are read, so records
 * written by an older Latch stay valid until they expire. Field *values* are oidc-provider's, as
 * they were.
 */
const PACKED = '~';

const NAMES: Record<string, string> = {
  iat: 'i',
  exp: 'e',
  accountId: 'a',
  grantId: 'g',
  gty: 'y',
  sessionUid: 'u',
  expiresWithSession: 'w',
  aud: 'd',
  scope: 's',
  extra: 'x',
  sid: 'o',
  jkt: 'j',
  'x5t#S256': 't',
  claims: 'c',
  resource: 'r',
  rotations: 'n',
  iiat: 'f',
  nonce: 'N',
  acr: 'A',
  amr: 'M',
  authTime: 'T',
  rar: 'R',
  scopes: 'S',
};
const FIELDS = Object.fromEntries(Object.entries(NAMES).map(([field, name]) => [name, field]));

const GRANT_TYPES: Record<string, string> = {
  authorization_code: 'a',
  refresh_token: 'r',
  client_credentials: 'c',
  'urn:ietf:params:oauth:grant-type:token-exchange': 'x',
  'urn:ietf:params:oauth:grant-type:device_code': 'd',
  'urn:openid:params:grant-type:ciba': 'b',
};
const GRANT_TYPE_OF = Object.fromEntries(Object.entries(GRANT_TYPES).map(([gty, code]) => [code, gty]));

/** Names inside `extra` (src/provider/token-claims.ts); others keep their own. */
const EXTRA_NAMES: Record<string, string> = { auth_time: 't', acr: 'c', amr: 'm', act: 'a' };
const EXTRA_FIELDS = Object.fromEntries(Object.entries(EXTRA_NAMES).map(([field, name]) => [name, field]));
/** Values of `extra.acr` stored as a code ('~' + code; no real acr starts with '~'). */
const ACR_CODES: Record<string, string> = { 'urn:latch:acr:password': '~p' };
const ACR_OF = Object.fromEntries(Object.entries(ACR_CODES).map(([acr, code]) => [code, acr]));

function packExtra(extra: Record<string, unknown>, iat: unknown): Record<string, unknown> {
  const packed: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(extra)) {
    let stored = value;
    if (field === 'auth_time' && typeof value === 'number' && typeof iat === 'number') stored = iat - value;
    else if (field === 'acr' && typeof value === 'string' && ACR_CODES[value]) stored = ACR_CODES[value];
    packed[EXTRA_NAMES[field] ?? field] = stored;
  }
  return packed;
}

function unpackExtra(packed: Record<string, unknown>, iat: unknown): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(packed)) extra[EXTRA_FIELDS[name] ?? name] = value;
  if (typeof extra.auth_time === 'number' && typeof iat === 'number') extra.auth_time = iat - extra.auth_time;
  if (typeof extra.acr === 'string' && ACR_OF[extra.acr]) extra.acr = ACR_OF[extra.acr];
  return extra;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The models whose payloads are stored packed. */
export const PACKED_MODELS: ReadonlySet<string> = new Set(['AccessToken', 'ClientCredentials', 'RefreshToken']);

/**
 * The stored form of `payload` (already without `jti`, `kind` and `clientId`) of a `model` token.
 * `withoutGrantId`: the compact form of an access token held in a grant, whose grant record holds
 * the grant's id (`hasOwnId`); it is read back with that grant's payload.
 */
export function packTokenPayload(model: string, payload: Record<string, unknown>, withoutGrantId = false): string {
  const packed: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(payload)) {
    if (value === undefined) continue;
    if (withoutGrantId && field === 'grantId') continue;
    if (model === 'AccessToken' && field === 'accountId' && payload.grantId) continue;
    if (model === 'AccessToken' && field === 'sessionUid' && !payload.expiresWithSession) continue;
    let stored = value;
    if (field === 'exp' && typeof value === 'number' && typeof payload.iat === 'number') stored = value - payload.iat;
    else if (field === 'extra' && isObject(value)) stored = packExtra(value, payload.iat);
    else if (field === 'gty' && typeof value === 'string') stored = value.split(' ').map((gty) => GRANT_TYPES[gty] ?? gty).join(' ');
    packed[NAMES[field] ?? field] = stored;
  }
  return PACKED + JSON.stringify(packed);
}

/**
 * A stored payload as oidc-provider wrote it (without `jti`, `kind`, `clientId`): a packed one
 * unpacked, an older plain one as it is. `grantPayload` (the token's grant record payload, JSON)
 * gives back an access token's `accountId`; it is read only when needed.
 */
export function unpackTokenPayload(stored: string, grantPayload?: string): Record<string, unknown> {
  if (stored[0] !== PACKED) return JSON.parse(stored) as Record<string, unknown>;
  const packed = JSON.parse(stored.slice(1)) as Record<string, unknown>;
  const payload: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(packed)) payload[FIELDS[name] ?? name] = value;
  if (typeof payload.exp === 'number' && typeof payload.iat === 'number') payload.exp = payload.iat + payload.exp;
  if (isObject(payload.extra)) payload.extra = unpackExtra(payload.extra, payload.iat);
  if (typeof payload.gty === 'string') payload.gty = payload.gty.split(' ').map((code) => GRANT_TYPE_OF[code] ?? code).join(' ');
  if (grantPayload && (payload.grantId === undefined || payload.accountId === undefined)) {
    const grant = JSON.parse(grantPayload) as { accountId?: unknown; jti?: unknown };
    // A compact access token keeps neither: its grant's record holds both.
    if (payload.grantId === undefined && typeof grant.jti === 'string') payload.grantId = grant.jti;
    if (payload.grantId && payload.accountId === undefined && grant.accountId !== undefined) payload.accountId = grant.accountId;
  }
  return payload;
}

/**
 * Whether a grant's stored payload holds the grant's own id (`jti`, first: grants written since
 * issue 16). Only under such a grant is an access token written compact, without the grant id.
 */
export function hasOwnId(grantPayload: string): boolean {
  return grantPayload.startsWith('{"jti":"');
}

/** Whether a stored payload is packed (and may need its grant for `accountId`). */
export function isPacked(stored: string): boolean {
  return stored[0] === PACKED;
}
