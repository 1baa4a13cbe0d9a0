import {
  InvalidJsonError,
  InvalidRequestError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from './errors.ts';

/**
 * Reading request bodies at the edge: the size is checked before anything is parsed (the declared
 * `Content-Length` first, then the bytes as they stream in, so a lying or absent length never
 * makes the API buffer more than the limit), the bytes must be UTF-8, and the text must be JSON —
 * or, for the sh agent's collect, plain text ({@link readCollectBody}).
 */

/** The media types a JSON body may be sent as: `application/json` and any `+json` (CloudEvents). */
export const JSON_MEDIA_TYPES = [
  'application/json',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
] as const;

const JSON_MEDIA_TYPE = /^application\/(?:[a-z0-9!#$&^_.-]+\+)?json$/;

/**
 * Refuses a declared Content-Type that is not JSON. An absent one is taken as JSON (curl and
 * small scripts often leave it out); parameters such as `charset=utf-8` are allowed.
 */
export const checkJsonContentType = (contentType: string | undefined): void => {
  if (contentType === undefined || contentType.trim() === '') return;
  const essence = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!JSON_MEDIA_TYPE.test(essence)) {
    throw new UnsupportedMediaTypeError(essence === '' ? 'unknown' : essence.slice(0, 100), JSON_MEDIA_TYPES);
  }
};

const declaredLength = (request: Request): number | undefined => {
  const header = request.headers.get('content-length');
  if (header === null || !/^\d{1,16}$/.test(header.trim())) return undefined;
  return Number(header.trim());
};

/** The body's bytes, refusing more than `maxBytes` (413) before reading them. */
export const readBodyBytes = async (request: Request, maxBytes: number): Promise<Uint8Array> => {
  const declared = declaredLength(request);
  if (declared !== undefined && declared > maxBytes) throw new PayloadTooLargeError(maxBytes);
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new PayloadTooLargeError(maxBytes);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof PayloadTooLargeError) throw error;
    throw new InvalidRequestError('the request body could not be read', [], { cause: error });
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text: UTF-8 (a leading byte-order mark is dropped), at most `maxBytes`. */
export const readBodyText = async (request: Request, maxBytes: number): Promise<string> => {
  const bytes = await readBodyBytes(request, maxBytes);
  try {
    return utf8.decode(bytes);
  } catch (error) {
    throw new InvalidJsonError('the request body is not UTF-8', undefined, { cause: error });
  }
};

/** JSON text as a value, or `InvalidJsonError` saying where it breaks. */
export const parseJsonText = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : 'it does not parse';
    throw new InvalidJsonError(`the request body is not valid JSON: ${reason.slice(0, 200)}`);
  }
};

export interface JsonBodyOptions {
  readonly maxBytes: number;
  /** Whether an empty body is an error (else it reads as `undefined`). */
  readonly required: boolean;
}

/**
 * Reads and parses a JSON body: size, encoding, media type and syntax, in that order. An empty body
 * (whatever its declared type) reads as `undefined` where a body is optional.
 */
export const readJsonBody = async (request: Request, options: JsonBodyOptions): Promise<unknown> =>
  (await readJsonBodyText(request, options)).value;

/** {@link readJsonBody}, with the text the value was read from (a caller that measures what travelled). */
export const readJsonBodyText = async (
  request: Request,
  options: JsonBodyOptions,
): Promise<{ readonly value: unknown; readonly text: string }> => {
  const text = await readBodyText(request, options.maxBytes);
  if (text.trim() === '') {
    if (options.required) throw new InvalidJsonError('the request body is empty; a JSON body is required');
    return { value: undefined, text };
  }
  checkJsonContentType(request.headers.get('content-type') ?? undefined);
  return { value: parseJsonText(text), text };
};

/**
 * The media types the sh agent's collect (`POST /v1/agents/:hostId/collect`) is read as: its own,
 * `text/plain`, and what `curl --data-binary` and `wget --post-file` send when a script forgets to
 * say (`application/x-www-form-urlencoded`), or `application/octet-stream`. The body is read as
 * plain text whatever it is labelled, never decoded as a form.
 */
export const TEXT_MEDIA_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
] as const;

/**
 * The sh agent's collect as text: size first (413 beyond `maxBytes`), then the media type (one of
 * {@link TEXT_MEDIA_TYPES}, or none; JSON or a form upload is a client at the wrong route: 415),
 * then UTF-8. Bytes that are not UTF-8 (binary garbage) are refused whole (400) rather than read
 * with replacement characters: the tools' output the agent posts is ASCII under `LC_ALL=C`, so
 * such a body is not theirs.
 */
export const readCollectBody = async (request: Request, maxBytes: number): Promise<string> => {
  const bytes = await readBodyBytes(request, maxBytes);
  const contentType = request.headers.get('content-type') ?? '';
  const essence = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (essence !== '' && !(TEXT_MEDIA_TYPES as readonly string[]).includes(essence)) {
    throw new UnsupportedMediaTypeError(essence.slice(0, 100), TEXT_MEDIA_TYPES);
  }
  try {
    return utf8.decode(bytes);
  } catch (error) {
    throw new InvalidRequestError(
      'the collect is not UTF-8 text',
      [{ path: [], message: 'the body holds bytes that are not UTF-8', code: 'not-text' }],
      { cause: error },
    );
  }
};
