/** A delivery that did not succeed; the worker retries it unless `permanent`. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly options: { statusCode?: number; permanent?: boolean } = {},
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}
