import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The page's session: the operator's token itself, kept in a cookie the page's script cannot read
 * (`HttpOnly`), that no other site's page sends (`SameSite=Strict`), and only over HTTPS when the
 * page is served over it (`Secure`). Every form that changes something carries a CSRF token made
 * from the session's token with an HMAC: a page of another origin can neither read the cookie nor
 * compute it, and the server needs nothing stored to check it.
 */

export const SESSION_COOKIE = 'faultline_session';

/** Whether a text sent is the one expected, compared in constant time. */
const sameText = (sent: string, expected: string): boolean => {
  const given = Buffer.from(sent);
  const wanted = Buffer.from(expected);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
};
/** How long a sign-in lasts (seconds): a working day. */
export const SESSION_SECONDS = 12 * 60 * 60;

const CSRF_PURPOSE = 'faultline web page: a form of this session';

const FLASH_PURPOSE = 'faultline web page: a line about the last action';

const sealOf = (sessionToken: string, text: string, error: boolean): string =>
  createHmac('sha256', sessionToken)
    .update(`${FLASH_PURPOSE}\u0000${error ? 'error' : 'done'}\u0000${text}`)
    .digest('base64url');

/**
 * The query of a redirect that shows a line about the action just taken (`said`, `error`), sealed
 * with an HMAC of the session's token: the page shows the line only with its seal, so a link made
 * elsewhere cannot make the page say something (a fake "session expired, sign in at …").
 */
export const flashQuery = (sessionToken: string, text: string, error: boolean): string =>
  new URLSearchParams({
    said: text,
    ...(error ? { error: '1' } : {}),
    seal: sealOf(sessionToken, text, error),
  }).toString();

/** Whether a line and its seal came from this session's own redirect. */
export const isFlashOf = (
  sessionToken: string,
  text: string,
  error: boolean,
  seal: string | undefined,
): boolean => {
  return seal !== undefined && sameText(seal, sealOf(sessionToken, text, error));
};

/** The CSRF token of a session: the same for each form of it, unguessable without the session's token. */
export const csrfTokenOf = (sessionToken: string): string =>
  createHmac('sha256', sessionToken).update(CSRF_PURPOSE).digest('base64url');

/** Whether a form's CSRF token is its session's (compared in constant time). */
export const isCsrfTokenOf = (sessionToken: string, sent: string | undefined): boolean => {
  return sent !== undefined && sameText(sent, csrfTokenOf(sessionToken));
};

/**
 * Whether a state-changing request comes from this page's own origin, by the headers browsers
 * set: `Sec-Fetch-Site` (`same-origin`), else `Origin` (its host must be the request's). A
 * request with neither (curl, an old browser) is judged by its CSRF token alone.
 */
export const isSameOrigin = (headers: {
  readonly secFetchSite: string | undefined;
  readonly origin: string | undefined;
  readonly host: string | undefined;
}): boolean => {
  if (headers.secFetchSite !== undefined) {
    return headers.secFetchSite === 'same-origin' || headers.secFetchSite === 'none';
  }
  if (headers.origin === undefined) return true;
  try {
    return headers.host !== undefined && new URL(headers.origin).host === headers.host;
  } catch {
    return false;
  }
};
