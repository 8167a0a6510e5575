// The three ways a test can stop early. They never satisfy a test's `expectError`: only errors
// raised by the driver (or the server through it) can.

/** An assertion of the test did not hold: the test fails. */
export class AssertionFailure extends Error {
  override name = 'AssertionFailure';
}

/** The test uses something this runner does not implement: the test is skipped, naming the feature. */
export class UnsupportedFeature extends Error {
  override name = 'UnsupportedFeature';
}

/** The test file is malformed for this runner (unknown entity, bad argument): the test fails. */
export class RunnerError extends Error {
  override name = 'RunnerError';
}

export function isRunnerSignal(e: unknown): e is AssertionFailure | UnsupportedFeature | RunnerError {
  return e instanceof AssertionFailure || e instanceof UnsupportedFeature || e instanceof RunnerError;
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
