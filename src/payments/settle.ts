import { performance } from 'node:perf_hooks';
import { MongoServerError } from 'mongodb';
import { type ClientSession, Types } from 'mongoose';
import { type OpenSales, openSales } from '../bookings/sales.js';
import { settlePaidBooking } from '../bookings/service.js';
import { runTransaction } from '../lib/transaction.js';
import type { PaymentFields } from './payment.model.js';
import type { PaymentStatus, ProviderEvent } from './provider.js';
import type { PaymentsDeps } from './types.js';

/**
 * The payment state machine and what a payment's change does to its booking (DESIGN.md 8). Every
 * change runs in a transaction; a change to `succeeded` also claims the event (DESIGN.md 1) and
 * confirms (or refunds) the booking in the same transaction, so it happens exactly once.
 */

const RANK: Record<PaymentStatus, number> = {
  requires_payment_method: 0,
  failed: 0,
  requires_action: 1,
  processing: 2,
  succeeded: 3,
  canceled: 3,
  refunded: 4,
};
const FINAL: ReadonlySet<PaymentStatus> = new Set(['succeeded', 'canceled', 'refunded']);

/**
 * Whether a payment may move from one status to another. Forward only, so a late or repeated
 * report never undoes a newer one: `succeeded` never goes back to `processing`; only a refund
 * follows it. A failure may follow any open state (a slow method can still fail), and a failed
 * payment may be retried on the provider's side, so it may move on again.
 */
export function canMove(from: PaymentStatus, to: PaymentStatus): boolean {
  if (from === to) return false;
  if (to === 'refunded') return from === 'succeeded';
  if (FINAL.has(from)) return false;
  if (to === 'failed' || to === 'requires_payment_method') return true;
  return RANK[to] > RANK[from];
}

export interface Report {
  status: PaymentStatus;
  providerPaymentId?: string | null;
  clientSecret?: string | null;
  failureReason?: string | null;
  amountRefunded?: number | null;
}

export interface Applied {
  changed: boolean;
  /** The booking was confirmed by this change (its event's read cache is stale). */
  confirmedEventId?: string;
  refundQueued: boolean;
}

/** Queues the refund of one payment in `session`; at most one refund job per payment. */
export async function queueRefund(
  deps: Pick<PaymentsDeps, 'models'>,
  payment: Pick<PaymentFields, '_id'>,
  reason: string,
  session: ClientSession,
): Promise<void> {
  const now = new Date();
  await deps.models.PaymentJob.updateOne(
    { _id: `refund:${String(payment._id)}` },
    {
      $setOnInsert: {
        kind: 'refund',
        paymentId: payment._id,
        reason,
        state: 'queued',
        attempts: 0,
        // Operational time, not business time: the worker's lease runs on the wall clock.
        runAt: now,
        createdAt: now,
      },
    },
    { upsert: true, session },
  );
}

/** Applies one report about a payment inside `session`: the state machine, then the booking. */
export async function applyReport(
  deps: Pick<PaymentsDeps, 'models' | 'clock' | 'ticketKeys'>,
  paymentId: Types.ObjectId,
  report: Report,
  session: ClientSession,
): Promise<Applied> {
  const current = await deps.models.Payment.findById(paymentId).session(session).lean<PaymentFields>();
  if (!current) return { changed: false, refundQueued: false };
  const from = current.status as PaymentStatus;
  const now = deps.clock.now();
  const set: Record<string, unknown> = { updatedAt: now };
  // What the create call answered is filled in once, whichever of it and a webhook comes first.
  if (report.providerPaymentId && !current.providerPaymentId) set.providerPaymentId = report.providerPaymentId;
  if (report.clientSecret && !current.clientSecret) set.clientSecret = report.clientSecret;
  const moves = canMove(from, report.status);
  if (!moves) {
    if (Object.keys(set).length > 1) await deps.models.Payment.updateOne({ _id: current._id }, { $set: set }, { session, timestamps: false });
    return { changed: false, refundQueued: false };
  }
  // Succeeding turns a hold into sold tickets: ordered against every sale of the event, and
  // decided on its ledger (the claim is this transaction's first write to the event).
  let sales: OpenSales | null = null;
  if (report.status === 'succeeded') sales = await openSales(deps, current.eventId, session, now);
  set.status = report.status;
  if (report.status === 'failed') set.failureReason = report.failureReason ?? 'The payment failed';
  if (report.status === 'succeeded') set.failureReason = null;
  if (report.status === 'refunded') set.refundedAmount = report.amountRefunded ?? current.amount;
  const moved = await deps.models.Payment.updateOne({ _id: current._id, status: from }, { $set: set }, { session, timestamps: false });
  if (moved.modifiedCount === 0) return { changed: false, refundQueued: false };

  if (report.status === 'succeeded') {
    const reference = (set.providerPaymentId as string | undefined) ?? current.providerPaymentId ?? String(current._id);
    const outcome = await settlePaidBooking(deps, sales, current.bookingId, reference, session);
    if (outcome.kind === 'refund') {
      await deps.models.Payment.updateOne({ _id: current._id }, { $set: { failureReason: outcome.reason } }, { session, timestamps: false });
      await queueRefund(deps, current, outcome.reason, session);
      return { changed: true, refundQueued: true };
    }
    return { changed: true, refundQueued: false, confirmedEventId: outcome.kind === 'confirmed' ? String(current.eventId) : undefined };
  }
  if (report.status === 'refunded') {
    // A cancelled booking whose money is back reads `refunded` (API.md Bookings).
    await deps.models.Booking.updateOne(
      { _id: current.bookingId, status: { $in: ['cancelled', 'refunded'] } },
      { $set: { status: 'refunded', updatedAt: now } },
      { session, timestamps: false },
    );
  }
  return { changed: true, refundQueued: false };
}

/** Runs applyReport in its own transaction and does the after-commit work. */
export async function applyInTransaction(
  deps: PaymentsDeps,
  work: (session: ClientSession) => Promise<Applied | 'duplicate'>,
): Promise<Applied | 'duplicate'> {
  const result = await runTransaction(deps.db, work, {
    deadline: performance.now() + deps.txTimeoutMs,
    commitIf: (r) => r !== 'duplicate',
  });
  if (result !== 'duplicate') await afterCommit(deps, result);
  return result;
}

async function afterCommit(deps: PaymentsDeps, applied: Applied): Promise<void> {
  if (applied.refundQueued) deps.refundQueued();
  if (applied.confirmedEventId) {
    try {
      await deps.salesChanged(applied.confirmedEventId);
    } catch {
      // A stale read cache heals within EVENT_CACHE_TTL_SECONDS; never fail a committed payment for it.
    }
  }
}

export type WebhookOutcome = 'applied' | 'duplicate' | 'ignored';

function isDuplicateRecord(err: unknown): boolean {
  if (!(err instanceof MongoServerError) || err.code !== 11000) return false;
  const fields = Object.keys((err.keyPattern as Record<string, unknown> | undefined) ?? {});
  return fields.length === 1 && fields[0] === '_id' && err.message.includes('paymentproviderevents');
}

async function paymentOf(deps: PaymentsDeps, event: ProviderEvent): Promise<PaymentFields | null> {
  const provider = deps.provider?.name;
  if (event.paymentId && Types.ObjectId.isValid(event.paymentId)) {
    const byId = await deps.models.Payment.findOne({ _id: event.paymentId, provider }).lean<PaymentFields>();
    if (byId) return byId;
  }
  if (!event.providerPaymentId) return null;
  return deps.models.Payment.findOne({ provider, providerPaymentId: event.providerPaymentId }).lean<PaymentFields>();
}

/**
 * A verified provider event: recorded by its id and applied in one transaction, so a redelivery,
 * however concurrent, finds the record and changes nothing. Events of types we do not act on, or
 * about payments we never made, are ignored (and not recorded).
 */
export async function applyProviderEvent(deps: PaymentsDeps, event: ProviderEvent): Promise<WebhookOutcome> {
  if (event.status === null || !deps.provider) return 'ignored';
  const payment = await paymentOf(deps, event);
  if (!payment) return 'ignored';
  const recordId = `${deps.provider.name}:${event.id}`;
  const status = event.status;
  try {
    const result = await applyInTransaction(deps, async (session) => {
      if (await deps.models.PaymentProviderEvent.exists({ _id: recordId }).session(session)) return 'duplicate';
      await deps.models.PaymentProviderEvent.create([{ _id: recordId, paymentId: payment._id, status, receivedAt: deps.clock.now() }], { session });
      return applyReport(
        deps,
        payment._id,
        { status, providerPaymentId: event.providerPaymentId, failureReason: event.failureReason, amountRefunded: event.amountRefunded },
        session,
      );
    });
    return result === 'duplicate' ? 'duplicate' : 'applied';
  } catch (err) {
    // Another delivery of the same event committed its record first. Any other duplicate (a
    // ticket-number collision) is an error: answered 5xx, so the provider delivers it again.
    if (isDuplicateRecord(err)) return 'duplicate';
    throw err;
  }
}
