import { describe, expect, it } from 'vitest';
import { AppError, serviceUnavailable } from '../src/lib/errors.js';

describe('AppError', () => {
  it('captures no stack for a 4xx (an answer, not a fault), a full one for a 5xx, and leaves the global limit as it was', () => {
    const limit = Error.stackTraceLimit;
    const answer = new AppError(409, 'SOLD_OUT', 'Sold out');
    expect(answer).toBeInstanceOf(AppError);
    expect(answer.statusCode).toBe(409);
    expect(answer.stack).toBe('AppError: Sold out');
    expect(Error.stackTraceLimit).toBe(limit);

    const fault = serviceUnavailable();
    expect(fault.stack?.split('\n').length).toBeGreaterThan(1);
    expect(new Error('plain').stack?.split('\n').length).toBeGreaterThan(1);
    expect(Error.stackTraceLimit).toBe(limit);
  });
});
