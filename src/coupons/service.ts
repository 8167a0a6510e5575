import { performance } from 'node:perf_hooks';
import { MongoServerError } from 'mongodb';
import { type ClientSession, Types } from 'mongoose';
import { assertManageable, type Actor, type EventDeps } from '../events/access.js';
import type { EventFields } from '../events/event.model.js';
import { AppError, notFound } from '../lib/errors.js';
import { runTransaction } from '../lib/transaction.js';
import type { CouponFields } from './coupon.model.js';
import { redemptionsAt } from './ledger.js';
import { couponCodeTaken } from './problems.js';
import { codeKeyOf } from './redeem.js';
import type { CouponDto, CreateCouponInput, UpdateCouponInput } from './schemas.js';

/**
 * Coupons of an event, for its organizer and admins. A coupon document holds its terms only; its
 * redemptions are read from the event's coupon ledger (coupons/ledger.ts), which the sales
 * transactions keep, so the organizer's number is exactly the one a sale decides on.
 */

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export function toCouponDto(c: CouponFields & { createdAt?: Date; updatedAt?: Date }, redemptions: number): CouponDto {
  return {
    id: String(c._id),
    eventId: String(c.eventId),
    code: c.code,
    percentOff: c.percentOff ?? null,
    amountOff: c.amountOff ?? null,
    maxRedemptions: c.maxRedemptions ?? null,
    maxPerUser: c.maxPerUser ?? null,
    validFrom: iso(c.validFrom),
    validUntil: iso(c.validUntil),
    ticketTypeIds: (c.ticketTypeIds ?? []).map(String),
    active: c.active ?? true,
    redemptions,
    createdAt: iso(c.createdAt) ?? '',
    updatedAt: iso(c.updatedAt ?? c.createdAt) ?? '',
  };
}

/** The event if the actor manages it: 404 unknown (or a draft they cannot see), 403 another organizer's. */
async function manageableEvent(deps: EventDeps, eventId: string, actor: Actor | undefined): Promise<EventFields> {
  const event = await deps.models.Event.findById(eventId).lean<EventFields>();
  if (!event) throw notFound('Event');
  assertManageable(actor, { status: event.status ?? 'draft', organizerId: String(event.organizerId) });
  return event;
}

/** Every id must name a type of this event (404 otherwise: a coupon may not cover another event's types). */
function checkTypes(event: EventFields, ids: string[] | undefined): Types.ObjectId[] | undefined {
  if (ids === undefined) return undefined;
  const known = new Set(event.ticketTypes.map((t) => String(t._id)));
  const unknown = ids.find((id) => !known.has(id));
  if (unknown) throw new AppError(404, 'NOT_FOUND', `Ticket type ${unknown} not found on this event`);
  return ids.map((id) => new Types.ObjectId(id));
}

const windowError = () =>
  new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', {
    errors: [{ path: 'validUntil', message: 'must be after validFrom' }],
  });

const isDuplicate = (err: unknown) => err instanceof MongoServerError && err.code === 11000;

export async function createCoupon(deps: EventDeps, eventId: string, actor: Actor | undefined, input: CreateCouponInput): Promise<CouponDto> {
  const event = await manageableEvent(deps, eventId, actor);
  const ticketTypeIds = checkTypes(event, input.ticketTypeIds) ?? [];
  const now = deps.clock.now();
  try {
    const [doc] = await deps.models.Coupon.create([
      {
        eventId: event._id,
        code: input.code,
        codeKey: codeKeyOf(input.code),
        percentOff: input.percentOff ?? null,
        amountOff: input.amountOff ?? null,
        maxRedemptions: input.maxRedemptions ?? null,
        maxPerUser: input.maxPerUser ?? null,
        validFrom: input.validFrom ?? null,
        validUntil: input.validUntil ?? null,
        ticketTypeIds,
        active: input.active ?? true,
        createdAt: now,
        updatedAt: now,
      },
    ]);
    // A new coupon has never been redeemed.
    return toCouponDto(doc.toObject<CouponFields>(), 0);
  } catch (err) {
    // The unique (event, lower-case code) index decides, however concurrent the creates.
    if (isDuplicate(err)) throw couponCodeTaken();
    throw err;
  }
}

export async function listCoupons(
  deps: EventDeps,
  eventId: string,
  actor: Actor | undefined,
  page: number,
  limit: number,
): Promise<{ items: CouponDto[]; total: number }> {
  const event = await manageableEvent(deps, eventId, actor);
  const filter = { eventId: event._id };
  const [coupons, total] = await Promise.all([
    deps.models.Coupon.find(filter)
      .sort({ createdAt: 1, _id: 1 })
      .skip((page - 1) * limit)
      .limit(limit)
      .lean<CouponFields[]>(),
    deps.models.Coupon.countDocuments(filter),
  ]);
  const counts = redemptionsAt(event.couponLedger, deps.clock.now());
  return { items: coupons.map((c) => toCouponDto(c, counts.get(String(c._id)) ?? 0)), total };
}

/**
 * Changes a coupon in a transaction that claims the event first, like a sale (DESIGN.md 1, 7): a
 * change (say `active: false` or a lower limit) is ordered against every sale, so no sale decided
 * on the old terms commits after it.
 */
export async function updateCoupon(
  deps: EventDeps,
  eventId: string,
  couponId: string,
  actor: Actor | undefined,
  input: UpdateCouponInput,
): Promise<CouponDto> {
  const event = await manageableEvent(deps, eventId, actor);
  const ticketTypeIds = checkTypes(event, input.ticketTypeIds);
  return runTransaction(
    deps.db,
    async (session: ClientSession) => {
      const claimed = await deps.models.Event.findOneAndUpdate(
        { _id: event._id },
        { $inc: { salesVersion: 1 } },
        { new: true, session, timestamps: false },
      ).lean<EventFields>();
      if (!claimed) throw notFound('Event');
      const current = await deps.models.Coupon.findOne({ _id: couponId, eventId: event._id }).session(session).lean<CouponFields>();
      // A coupon of another event is not found here, as if it did not exist.
      if (!current) throw notFound('Coupon');
      const from = input.validFrom !== undefined ? input.validFrom : current.validFrom;
      const until = input.validUntil !== undefined ? input.validUntil : current.validUntil;
      if (from && until && new Date(until) <= new Date(from)) throw windowError();
      const now = deps.clock.now();
      const set: Record<string, unknown> = { updatedAt: now };
      for (const [field, value] of Object.entries(input)) if (value !== undefined) set[field] = value;
      if (ticketTypeIds) set.ticketTypeIds = ticketTypeIds;
      const updated = await deps.models.Coupon.findOneAndUpdate({ _id: current._id }, { $set: set }, { new: true, session, timestamps: false }).lean<CouponFields>();
      if (!updated) throw notFound('Coupon');
      return toCouponDto(updated, redemptionsAt(claimed.couponLedger, now).get(String(updated._id)) ?? 0);
    },
    { deadline: performance.now() + deps.config.BOOKING_TX_TIMEOUT_MS },
  );
}
