import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The page's session: the operator's token itself, kept in a cookie the page's script cannot read
 * (`HttpOnly`), that no other site's page sends (`SameSite=Strict`), and only over HTTPS when the
 * page is served over it (`Secure`). Every form that changes something carries a CSRF token made
 * from the session's token with an HMAC: a page of another origin can neither read the cookie nor
 * compute it, and the server needs nothing stored to check it.
 */

export const SESSION_COOKIE = 'faultline_session';
/** How long a sign-in lasts (seconds): a working day. */
export const SESSION_SECONDS = 12 * 60 * 60;

const CSRF_PURPOSE = 'faultline web page: a form of this session';

/** The CSRF token of a session: the same for each form of it, unguessable without the session's token. */
export const csrfTokenOf = (sessionToken: string): string =>
  createHmac('sha256', sessionToken).update(CSRF_PURPOSE).digest('base64url');

/** Whether a form's CSRF token is its session's (compared in constant time). */
export const isCsrfTokenOf = (sessionToken: string, sent: string | undefined): boolean => {
  if (sent === undefined) return false;
  const expected = Buffer.from(csrfTokenOf(sessionToken));
  const given = Buffer.from(sent);
  return given.length === expected.length && timingSafeEqual(given, expected);
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
