/**
 * Errors the API answers with. Every failure leaves the service as RFC 9457 problem+json
 * (see plugins/errors.ts); throwing an AppError is how a route or service picks the answer.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'INVALID_JSON'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'EMAIL_TAKEN'
  | 'INVALID_CREDENTIALS'
  | 'ACCOUNT_LOCKED'
  | 'REFRESH_TOKEN_REUSED'
  | 'CAPACITY_BELOW_SOLD'
  | 'PRECONDITION_FAILED'
  | 'EVENT_HAS_BOOKINGS'
  | 'TICKET_TYPE_REQUIRED'
  | 'TICKET_TYPE_HAS_BOOKINGS'
  | 'INVALID_STATE'
  | 'SOLD_OUT'
  | 'EVENT_NOT_ON_SALE'
  | 'HOLD_EXPIRED'
  | 'COUPON_INVALID'
  | 'COUPON_EXHAUSTED'
  | 'COUPON_CODE_TAKEN'
  | 'TICKETS_AVAILABLE'
  | 'ALREADY_ON_WAITLIST'
  | 'IDEMPOTENCY_KEY_REQUIRED'
  | 'IDEMPOTENCY_KEY_INVALID'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_REQUEST_IN_PROGRESS'
  | 'WEBHOOK_URL_NOT_ALLOWED'
  | 'ALREADY_CHECKED_IN'
  | 'TICKET_VOID'
  | 'WRONG_EVENT'
  | 'INVALID_TICKET_CODE'
  | 'SERVICE_UNAVAILABLE'
  | 'PAYMENT_REQUIRED'
  | 'PAYMENT_PROVIDER_UNAVAILABLE'
  | 'INVALID_SIGNATURE'
  | 'SEAT_UNAVAILABLE'
  | 'SEATS_IN_USE'
  | 'INTERNAL_ERROR';

export interface FieldError {
  path: string;
  message: string;
}

export interface AppErrorOptions {
  /** Extra members of the problem body, e.g. `availableTickets` on SOLD_OUT. */
  extra?: Record<string, unknown>;
  errors?: FieldError[];
  headers?: Record<string, string>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly extra: Record<string, unknown>;
  readonly errors?: FieldError[];
  readonly headers: Record<string, string>;

  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    detail: string,
    options: AppErrorOptions = {},
  ) {
    // A 4xx is an answer, not a fault: nobody reads its stack, and capturing one is most of the
    // cost of a sold-out answer's error. 5xx keep theirs.
    const stackFrames = Error.stackTraceLimit;
    if (statusCode < 500) Error.stackTraceLimit = 0;
    super(detail, { cause: options.cause });
    Error.stackTraceLimit = stackFrames;
    this.name = 'AppError';
    this.extra = options.extra ?? {};
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

export const notFound = (what = 'Resource') => new AppError(404, 'NOT_FOUND', `${what} not found`);
export const unauthenticated = (detail = 'Authentication required') =>
  new AppError(401, 'UNAUTHENTICATED', detail);
export const forbidden = (detail = 'You are not allowed to do this') => new AppError(403, 'FORBIDDEN', detail);
export const serviceUnavailable = (detail = 'Service temporarily unavailable, retry shortly', retryAfterSeconds = 1) =>
  new AppError(503, 'SERVICE_UNAVAILABLE', detail, { headers: { 'retry-after': String(retryAfterSeconds) } });

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  requestId: string;
  success: false;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export function problemBody(error: AppError, requestId: string): ProblemBody {
  return {
    ...error.extra,
    type: `urn:ticketing:problem:${error.code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[error.statusCode] ?? 'Error',
    status: error.statusCode,
    detail: error.message,
    code: error.code,
    requestId,
    success: false,
    ...(error.errors ? { errors: error.errors } : {}),
  };
}
