import type autocannon from 'autocannon';
import type { Account } from './fixtures.js';

/**
 * POST /api/v1/bookings by one buyer after another (round robin): each request carries its buyer's
 * token and that buyer's own Idempotency-Key. autocannon calls setupRequest once per request.
 */
export function purchaseRequest(
  buyers: Account[],
  bodyOf: (i: number) => string,
  keyOf: (buyer: Account) => string,
  onResponse: NonNullable<autocannon.Request['onResponse']>,
): autocannon.Request {
  let next = 0;
  return {
    method: 'POST',
    path: '/api/v1/bookings',
    setupRequest: (req) => {
      const i = next++;
      const buyer = buyers[i % buyers.length]!;
      return {
        ...req,
        headers: { ...req.headers, authorization: `Bearer ${buyer.accessToken}`, 'idempotency-key': keyOf(buyer), 'content-type': 'application/json' },
        body: bodyOf(i),
      };
    },
    onResponse,
  };
}
