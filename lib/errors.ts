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
} as const satisfies Record<string, { retriable: boolean; summary: string }>;

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
