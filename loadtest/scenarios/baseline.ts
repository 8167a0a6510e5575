/** baseline: the ceiling of this machine, a bare Fastify route answering a small JSON body. */
import { fire, toPhase } from '../lib/cannon.js';
import type { ScenarioContext } from '../lib/context.js';
import { check, type ScenarioResult } from '../lib/report.js';

export async function baseline(ctx: ScenarioContext): Promise<Omit<ScenarioResult, 'startedAt' | 'finishedAt' | 'command' | 'machine' | 'target'>> {
  ctx.log(`load: GET / for ${ctx.opts.duration} s over ${ctx.opts.connections} connections`);
  const options = { title: 'baseline', url: ctx.target.baseUrl, connections: ctx.opts.connections, duration: ctx.opts.duration };
  await fire({ ...options, title: 'baseline (warm-up)', duration: 1 });
  const result = await ctx.target.profilePhase('bare route', () => fire(options));
  const phase = toPhase('bare route', result);
  const ok = result['2xx'] === phase.requests && phase.errors === 0;
  return {
    scenario: 'baseline',
    options: { connections: ctx.opts.connections, duration: ctx.opts.duration },
    headline: { phase: 'bare route', label: 'req/s', perSecond: phase.requestsPerSecond },
    phases: [phase],
    figures: {},
    checks: [check('every request answered 200', ok, `${result['2xx']} x 2xx of ${phase.requests}, ${phase.errors} without answer`)],
    goals: [],
    passed: ok,
    notes: [],
  };
}
