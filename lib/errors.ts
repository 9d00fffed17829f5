// One error catalogue for the project: every failure a user can meet has a stable string code,
// a retry flag, and a message that says what was wrong and what to do next.
export const errorCatalogue = {
  CONFIG_INVALID: { retriable: false, summary: 'The configuration file does not match the schema.' },
  TOOLCHAIN_MISSING: {
    retriable: false,
    summary: 'A tool the local stack needs (java, mvn, go) is missing or too old.',
  },
  TOOL_BUILD_FAILED: { retriable: true, summary: 'Building or fetching a stack component failed.' },
  PORT_IN_USE: {
    retriable: false,
    summary: 'A port of the local stack is taken by a process Sluice did not start.',
  },
  SERVICE_START_FAILED: {
    retriable: true,
    summary: 'A local service exited or did not become healthy in time.',
  },
  WAREHOUSE_UNREACHABLE: {
    retriable: true,
    summary: "The loader worker's query endpoint did not answer (the worker is not running).",
  },
  // HTTP answers of the proxy: `status` is the HTTP status of a whole-request error; per-event
  // errors (inside a 207 or 400 answer) carry the same codes.
  MALFORMED_BODY: { retriable: false, status: 400, summary: 'The body is not valid JSON / NDJSON / UTF-8.' },
  INVALID_EVENT: {
    retriable: false,
    status: 400,
    summary: 'An event is not of the request shape, or a CloudEvents attribute breaks the spec.',
  },
  UNKNOWN_EVENT_TYPE: { retriable: false, status: 400, summary: 'The event type is not in the catalog.' },
  UNKNOWN_SCHEMA_VERSION: {
    retriable: false,
    status: 400,
    summary: 'The event type has no such schema version.',
  },
  SCHEMA_VALIDATION_FAILED: {
    retriable: false,
    status: 400,
    summary: 'The payload does not match its schema; `errors` lists each field.',
  },
  EVENT_TOO_LARGE: {
    retriable: false,
    status: 400,
    summary: 'One event is larger than proxy.maxEventBytes.',
  },
  EVENTS_REJECTED: {
    retriable: false,
    status: 400,
    summary: 'Every event of the request was rejected; see `results`.',
  },
  UNAUTHORIZED: { retriable: false, status: 401, summary: 'No API key, or an unknown one.' },
  FORBIDDEN: { retriable: false, status: 403, summary: 'The API key may not send this event type or app.' },
  NOT_FOUND: { retriable: false, status: 404, summary: 'No such endpoint, topic or cluster.' },
  METHOD_NOT_ALLOWED: {
    retriable: false,
    status: 405,
    summary: 'The endpoint does not take this HTTP method.',
  },
  BODY_TOO_LARGE: { retriable: false, status: 413, summary: 'The body is larger than proxy.maxBodyBytes.' },
  UNSUPPORTED_CONTENT_TYPE: {
    retriable: false,
    status: 415,
    summary: 'The Content-Type is not one the endpoint takes.',
  },
  RATE_LIMITED: {
    retriable: true,
    status: 429,
    summary: "The API key's event rate is used up; retry after `Retry-After` seconds.",
  },
  KAFKA_UNAVAILABLE: {
    retriable: true,
    status: 503,
    summary: 'Kafka did not acknowledge in time; nothing was accepted, retry after `Retry-After`.',
  },
  SPOOL_FULL: {
    retriable: true,
    status: 503,
    summary: 'The async spool is full; nothing was accepted, retry after `Retry-After`.',
  },
  SPOOL_UNAVAILABLE: {
    retriable: true,
    status: 503,
    summary:
      'The async spool could not be written (disk error); nothing was accepted, retry after `Retry-After`.',
  },
  NOT_READY: { retriable: true, status: 503, summary: 'The proxy is starting or shutting down.' },
  REQUEST_TIMEOUT: {
    retriable: true,
    status: 503,
    summary: 'The request took longer than proxy.requestTimeoutMs.',
  },
  // The loader worker's read-only query endpoint (`sluice query`); not answered by the proxy.
  QUERY_NOT_READ_ONLY: {
    retriable: false,
    status: 400,
    endpoint: 'query',
    summary: 'The query endpoint runs exactly one read-only statement (SELECT, WITH … SELECT, EXPLAIN).',
  },
  QUERY_FAILED: {
    retriable: false,
    status: 400,
    endpoint: 'query',
    summary: 'The warehouse rejected the query; the message is its own.',
  },
  INTERNAL_ERROR: {
    retriable: true,
    status: 500,
    summary: 'A bug: the message says what failed; please report it.',
  },
} as const satisfies Record<
  string,
  { retriable: boolean; summary: string; status?: number; endpoint?: 'query' }
>;

export type ErrorCode = keyof typeof errorCatalogue;

export class SluiceError extends Error {
  override readonly name = 'SluiceError';
  readonly retriable: boolean;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.retriable = errorCatalogue[code].retriable;
  }
}
