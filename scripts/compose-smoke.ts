// End-to-end check of the docker-compose stack as a user gets it: builds the image, brings up
// MongoDB, Redis, the one-shot jobs and the API, then buys a ticket through the published port and
// checks the replay, the image's health check, the non-root user and a graceful stop. Everything it
// made (containers, volumes, network) is removed at the end.
//   npm run compose:smoke        needs Docker with Compose v2; COMPOSE_FILE picks other compose
//                                files, as it does for docker compose itself.
import { spawnSync } from 'node:child_process';

const port = process.env.API_PORT ?? '3900';
const admin = { email: 'smoke-admin@example.com', password: 'smoke-admin-password' };
const env: NodeJS.ProcessEnv = {
  ...process.env,
  COMPOSE_PROJECT_NAME: process.env.COMPOSE_PROJECT_NAME ?? 'ticketing-smoke',
  API_PORT: port,
  ADMIN_EMAIL: admin.email,
  ADMIN_PASSWORD: admin.password,
  // The worker service refuses to start without SMTP. The smoke flow only holds a paid booking,
  // which sends no email, so an address nothing listens on is enough to bring the stack up.
  SMTP_URL: process.env.SMTP_URL ?? 'smtp://127.0.0.1:2525',
};
const base = `http://127.0.0.1:${port}`;

function run(command: string, args: string[], echo = false): string {
  const r = spawnSync(command, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', echo ? 'inherit' : 'pipe'] });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}\n${r.stdout}${r.stderr ?? ''}`);
  return r.stdout.trim();
}
const compose = (...args: string[]): string => run('docker', ['compose', ...args]);
const inspect = (container: string, format: string): string => run('docker', ['inspect', '--format', format, container]);

function check(ok: boolean, what: string, seen?: unknown): void {
  if (!ok) throw new Error(`FAILED: ${what}${seen === undefined ? '' : ` (saw ${JSON.stringify(seen)})`}`);
  console.log(`ok   ${what}`);
}

interface Answer {
  status: number;
  headers: Headers;
  body: { data?: Record<string, unknown> } & Record<string, unknown>;
}

async function call(method: string, path: string, opts: { token?: string; body?: unknown; key?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.key) headers['idempotency-key'] = opts.key;
  const res = await fetch(base + path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Answer['body']) : {} };
}

async function purchaseFlow(): Promise<void> {
  check((await call('GET', '/health')).status === 200, 'GET /health answers 200 on the published port');
  const ready = await call('GET', '/health/ready');
  check(ready.status === 200, 'GET /health/ready: MongoDB and Redis answer', ready.body);

  const login = await call('POST', '/api/v1/auth/login', { body: admin });
  check(login.status === 200, 'the admin from ADMIN_EMAIL/ADMIN_PASSWORD logs in', login.body);
  const adminToken = String(login.body.data?.accessToken);

  const startsAt = new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString();
  const created = await call('POST', '/api/v1/events', {
    token: adminToken,
    body: { name: 'Compose smoke', venue: 'Container hall', startsAt, totalTickets: 5, price: 2500, currency: 'EUR', status: 'published' },
  });
  check(created.status === 201, 'an event is created and published', created.body);
  const eventId = String(created.body.data?.id);

  const buyer = await call('POST', '/api/v1/auth/register', {
    body: { email: `buyer-${Date.now()}@example.com`, password: 'buyer-password-1', name: 'Buyer' },
  });
  check(buyer.status === 201, 'a buyer registers', buyer.body);
  const buyerToken = String(buyer.body.data?.accessToken);

  const order = { token: buyerToken, body: { eventId, quantity: 2 }, key: 'compose-smoke-order-1' };
  const first = await call('POST', '/api/v1/bookings', order);
  check(first.status === 201 && first.body.data?.status === 'pending', 'the purchase holds 2 tickets (201 pending)', first.body);
  const again = await call('POST', '/api/v1/bookings', order);
  check(
    again.status === 201 && again.headers.get('idempotent-replayed') === 'true' && again.body.data?.id === first.body.data?.id,
    'its retry with the same Idempotency-Key is replayed, not booked twice',
    { status: again.status, replayed: again.headers.get('idempotent-replayed') },
  );
  const availability = await call('GET', `/api/v1/events/${eventId}/availability`);
  check(
    availability.body.data?.availableTickets === 3 && availability.body.data?.heldTickets === 2,
    'availability is 3 of 5 with 2 held',
    availability.body.data,
  );
}

async function main(): Promise<void> {
  console.log(`docker compose up --build --wait (project ${env.COMPOSE_PROJECT_NAME}, API on ${base})`);
  run('docker', ['compose', 'up', '--detach', '--build', '--wait', '--wait-timeout', '600'], true);
  try {
    for (const job of ['jwt-secret', 'indexes']) {
      const id = compose('ps', '--all', '--quiet', job);
      check(inspect(id, '{{.State.Status}} {{.State.ExitCode}}') === 'exited 0', `one-shot job ${job} completed with exit code 0`);
    }
    // The mongo health check initiated the set under the name the API's MONGODB_URI uses.
    const member = compose('exec', '-T', 'mongo', 'mongosh', '--quiet', '--eval', 'rs.status().members.map((m) => m.name + " " + m.stateStr).join()');
    check(member === 'mongo:27017 PRIMARY', "the mongo health check initiated replica set rs0 with mongo:27017 as primary", member);
    const api = compose('ps', '--quiet', 'api');
    check(inspect(api, '{{.State.Health.Status}}') === 'healthy', "the API container is healthy by the image's HEALTHCHECK");
    const uid = compose('exec', '-T', 'api', 'id', '-u');
    check(uid !== '0', 'the API runs as a non-root user', uid);
    check(inspect(api, '{{range .Config.Env}}{{println .}}{{end}}').includes('NODE_ENV=production'), 'the API runs with NODE_ENV=production');
    // Production dependencies only: none of the build's tools made it into the final stage.
    const devTools = compose('exec', '-T', 'api', 'sh', '-c', 'ls node_modules | grep -xE "typescript|vitest|tsx|mongodb-memory-server|mingo" || true');
    check(devTools === '', 'the image holds no dev dependencies', devTools);

    await purchaseFlow();

    compose('stop', 'api');
    const stopped = inspect(api, '{{.State.ExitCode}}');
    check(stopped === '0', 'docker compose stop: the API drains and exits 0 on SIGTERM', stopped);
    console.log('compose smoke passed');
  } catch (e) {
    // The services' own logs usually say why; print their tails before everything is removed.
    spawnSync('docker', ['compose', 'logs', '--no-color', '--tail', '60'], { env, stdio: 'inherit' });
    throw e;
  } finally {
    if (process.env.KEEP_STACK !== '1') compose('down', '--volumes', '--remove-orphans');
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
