import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeyValueStore } from '../lib/kv.js';

/**
 * Fair turns between instances at an event's sales transactions. Scheduling only: whoever runs,
 * the event-document write still decides every sale (DESIGN.md 1), and without Redis (or when it
 * fails) instances simply race as before.
 *
 * Why: an instance that commits a batch starts its next one at once and claims the event again,
 * while one that lost a write conflict backs off, longer each time. With several instances on one
 * event the loser only got in by luck of timing: one measured hot drop on three instances sold
 * 348 + 0 + 152 (BENCHMARKS.md). Now an instance that loses a conflict asks for the next turn (a
 * short-lived Redis key naming it); every other instance waits before its next attempt until that
 * turn is used or has run out. A loser therefore waits for at most one transaction of the others.
 */
export interface SalesTurns {
  /** Before an attempt: wait while another instance holds the event's turn (never past `deadline`, nor past the turn's life). */
  awaitTurn(eventId: string, deadline: number): Promise<void>;
  /** After losing a write conflict: ask for the next turn; true when this instance has it. */
  requestTurn(eventId: string): Promise<boolean>;
  /** After the transaction (committed or given up): hand the turn back if this instance has it. */
  release(eventId: string): Promise<void>;
}

export interface SalesTurnOptions {
  /** How long a turn lasts if its holder never hands it back (a crashed instance). */
  turnMs?: number;
  /** How often a waiting instance looks again. */
  pollMs?: number;
  /** This instance's name in the turn key (tests make two in one process). */
  instanceId?: string;
}

const turnKey = (eventId: string) => `sales-turn:${eventId}`;

/** How long one question about a turn may take: a Redis that hangs must not slow a sale down. */
const ASK_LIMIT_MS = 50;

/** `work`'s answer, or `fallback` once `ms` have passed (a hung Redis answers after commandTimeout, 1 s). */
function within<T>(ms: number, work: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), Math.max(0, ms));
  });
  return Promise.race([work.catch(() => fallback), late]).finally(() => clearTimeout(timer));
}

export function salesTurns(kv: KeyValueStore, options: SalesTurnOptions = {}): SalesTurns {
  const turnMs = options.turnMs ?? 250;
  const pollMs = options.pollMs ?? 2;
  const me = options.instanceId ?? randomUUID();
  // Events whose turn this instance asked for and may hold: release() needs no round trip otherwise.
  const mine = new Set<string>();

  return {
    async awaitTurn(eventId, deadline) {
      const until = Math.min(deadline, performance.now() + turnMs);
      for (;;) {
        // Redis unavailable or slow: no turns (null), the transaction decides as always.
        const holder = await within(Math.min(ASK_LIMIT_MS, until - performance.now()), kv.get(turnKey(eventId)), null);
        if (holder === null || holder === me) return;
        if (performance.now() + pollMs >= until) return;
        await sleep(pollMs);
      }
    },

    async requestTurn(eventId) {
      const holder = await within(ASK_LIMIT_MS, kv.setIfAbsentOrGet(turnKey(eventId), me, turnMs), undefined);
      if (holder === undefined || (holder !== null && holder !== me)) return false;
      mine.add(eventId);
      return true;
    },

    async release(eventId) {
      if (!mine.delete(eventId)) return;
      // Not awaited by the sale: its answers need not wait for Redis. Only our own turn is handed
      // back; one that ran out and went to another instance stays theirs. If this fails, the turn
      // runs out by itself after turnMs.
      void (async () => {
        if ((await kv.get(turnKey(eventId))) === me) await kv.delete(turnKey(eventId));
      })().catch(() => undefined);
    },
  };
}
