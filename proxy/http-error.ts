// The one error body of every HTTP answer: { error_code, message, details? }.
import { errorCatalogue, type ErrorCode } from '../lib/errors.js';

export interface ErrorBody {
  error_code: ErrorCode;
  message: string;
  details?: unknown;
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Seconds, for 429 and 503. */
    readonly retryAfter?: number,
  ) {
    super(message);
    const entry = errorCatalogue[code];
    this.status = 'status' in entry ? entry.status : 500;
  }

  body(): ErrorBody {
    return {
      error_code: this.code,
      message: this.message,
      ...(this.details !== undefined ? { details: this.details } : {}),
    };
  }
}

/** A zlib failure (not gzip/deflate data, truncated) as the client's error, not a 500. */
export function inflateError(contentEncoding: string | undefined, err: unknown): HttpError | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !code.startsWith('Z_')) return undefined;
  return new HttpError(
    'MALFORMED_BODY',
    `the body is not valid ${contentEncoding ?? 'compressed'} data (Content-Encoding): ${(err as Error).message}`,
  );
}
