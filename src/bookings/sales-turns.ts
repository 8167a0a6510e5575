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

export function salesTurns(kv: KeyValueStore, options: SalesTurnOptions = {}): SalesTurns {
  const turnMs = options.turnMs ?? 250;
  const pollMs = options.pollMs ?? 2;
  const me = options.instanceId ?? randomUUID();
  // Events whose turn this instance asked for and may hold: release() needs no round trip otherwise.
  const mine = new Set<string>();

  return {
    async awaitTurn(eventId, deadline) {
      const until = Math.min(deadline, performance.now() + turnMs);
      try {
        for (;;) {
          const holder = await kv.get(turnKey(eventId));
          if (holder === null || holder === me) return;
          if (performance.now() + pollMs >= until) return;
          await sleep(pollMs);
        }
      } catch {
        // Redis unavailable: no turns, the transaction decides as always.
      }
    },

    async requestTurn(eventId) {
      try {
        const holder = await kv.setIfAbsentOrGet(turnKey(eventId), me, turnMs);
        if (holder !== null && holder !== me) return false;
        mine.add(eventId);
        return true;
      } catch {
        return false;
      }
    },

    async release(eventId) {
      if (!mine.delete(eventId)) return;
      try {
        // Only our own turn; one that ran out and went to another instance stays theirs.
        if ((await kv.get(turnKey(eventId))) === me) await kv.delete(turnKey(eventId));
      } catch {
        // It runs out by itself after turnMs.
      }
    },
  };
}
