// What a failed request tells the user: the server's message and code,
// and whether it means the session has ended.
import type { CombinedError } from 'urql';

/** A failure as shown to the user. */
export interface ApiFailure {
  /** The server's message, or why the server could not be reached. */
  message: string;
  /** The server's `extensions.code`, or `NETWORK_ERROR` / `HTTP_<status>`. */
  code: string;
}

/** The code the admin API answers for a missing, unknown or revoked token. */
export const UNAUTHENTICATED = 'UNAUTHENTICATED';

/** The WebSocket close code of a socket whose token was revoked. */
export const TOKEN_REVOKED_CLOSE_CODE = 4403;

/** The subscription socket closed for good (after any retries). */
export class SocketClosed extends Error {
  constructor(
    readonly closeCode: number,
    reason: string,
  ) {
    super(reason ? `the live connection closed: ${reason}` : 'the live connection closed');
    this.name = 'SocketClosed';
  }

  get failure(): ApiFailure {
    return { message: this.message, code: `CLOSED_${this.closeCode}` };
  }
}

/** The first error of a failed request, as shown to the user. */
export function failureOf(error: CombinedError): ApiFailure {
  if (error.networkError instanceof SocketClosed) return error.networkError.failure;
  const [first] = error.graphQLErrors;
  if (first) {
    const code = first.extensions.code;
    return {
      message: first.message,
      code: typeof code === 'string' ? code : httpCode(error) ?? 'GRAPHQL_ERROR',
    };
  }
  const status = httpCode(error);
  if (status) {
    return { message: `the server answered ${status.slice(5)}`, code: status };
  }
  const cause = error.networkError?.message ?? error.message;
  return { message: `the server could not be reached: ${cause}`, code: 'NETWORK_ERROR' };
}

/** Whether a failure means the token no longer works (HTTP 401 or the code). */
export function endsSession(error: CombinedError): boolean {
  return (
    statusOf(error) === 401 ||
    error.graphQLErrors.some((e) => e.extensions.code === UNAUTHENTICATED)
  );
}

function statusOf(error: CombinedError): number | undefined {
  const response: unknown = error.response;
  if (typeof response === 'object' && response !== null && 'status' in response) {
    const { status } = response;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

function httpCode(error: CombinedError): string | undefined {
  const status = statusOf(error);
  return status !== undefined && status >= 400 ? `HTTP_${status}` : undefined;
}

/** A failure as one line: "message (CODE)". */
export function describe(failure: ApiFailure): string {
  return `${failure.message} (${failure.code})`;
}
