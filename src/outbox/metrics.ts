import { Counter, Gauge, type Registry } from 'prom-client';
import type { OutboxModel } from './message.model.js';
import { DELIVERY_KINDS, type DeliveryKind } from './types.js';

export interface OutboxMetrics {
  /** Counts a failed attempt (and, when final, a row given up on). */
  failure(kind: DeliveryKind, final: boolean): void;
}

/**
 * Backlog and failures of the outbox (API.md: /metrics lists the outbox backlog). The backlog is
 * read from the database at scrape time, so it is the same whichever instance is scraped and
 * whether the worker runs in this process or not. Two small counts on the claim index.
 */
export function registerOutboxMetrics(registry: Registry, model: OutboxModel, clock: () => Date): OutboxMetrics {
  new Gauge({
    name: 'ticketing_outbox_backlog',
    help: 'Outbox rows waiting to be delivered, by kind (message = not yet fanned out)',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      const counts = await countBy(model, { status: 'pending' });
      for (const kind of DELIVERY_KINDS) this.set({ kind }, counts.get(kind) ?? 0);
    },
  });
  new Gauge({
    name: 'ticketing_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest outbox row still waiting to be delivered (0 when none)',
    registers: [registry],
    async collect() {
      const oldest = await model.findOne({ status: 'pending' }, { createdAt: 1 }).sort({ createdAt: 1 }).lean();
      this.set(oldest ? Math.max(0, (clock().getTime() - oldest.createdAt.getTime()) / 1000) : 0);
    },
  });
  new Gauge({
    name: 'ticketing_outbox_failed',
    help: 'Outbox rows given up on after their retry window (or a permanent error), by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      const counts = await countBy(model, { status: 'failed' });
      for (const kind of DELIVERY_KINDS) this.set({ kind }, counts.get(kind) ?? 0);
    },
  });
  const attempts = new Counter({
    name: 'ticketing_outbox_delivery_failures_total',
    help: "Failed delivery attempts by this process's worker, by kind and whether the row was then given up (final)",
    labelNames: ['kind', 'final'] as const,
    registers: [registry],
  });
  for (const kind of DELIVERY_KINDS) for (const final of ['true', 'false']) attempts.inc({ kind, final }, 0);
  return { failure: (kind, final) => attempts.inc({ kind, final: String(final) }) };
}

async function countBy(model: OutboxModel, filter: Record<string, unknown>): Promise<Map<string, number>> {
  const rows = await model.aggregate<{ _id: string; n: number }>([{ $match: filter }, { $group: { _id: '$kind', n: { $sum: 1 } } }]);
  return new Map(rows.map((r) => [r._id, r.n]));
}
