/**
 * Errors that reach a client. The API answers `{"error": message}` with `status`;
 * every other thrown error is a 500 whose details stay in the server log.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.headers = headers;
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);
export const unauthorized = (message: string): HttpError => new HttpError(401, message);
export const forbidden = (message: string): HttpError => new HttpError(403, message);
export const notFound = (message: string): HttpError => new HttpError(404, message);
export const conflict = (message: string): HttpError => new HttpError(409, message);
export const tooLarge = (message: string): HttpError => new HttpError(413, message);
export const unavailable = (message: string, retryAfterSeconds: number): HttpError =>
  new HttpError(503, message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
