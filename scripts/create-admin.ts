/**
 * `npm run create-admin -- --email a@b.c --password '...' [--name 'Ada']`
 * Creates an admin account, or promotes an existing account to admin (its password is kept), in
 * MONGODB_URI or, when that is unset, the embedded MongoDB of a running `npm start`.
 * Falls back to ADMIN_EMAIL / ADMIN_PASSWORD / ADMIN_NAME from the environment (or .env), which
 * keeps the password out of the shell history and the process list.
 */
import 'dotenv/config';
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import { ensureAdmin } from '../src/auth/admin.js';
import { userModel } from '../src/auth/user.model.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { databaseForScript } from './embedded-state.js';

const USAGE = 'usage: npm run create-admin -- --email <email> [--password <password>] [--name <name>]';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const email = values.email ?? positionals[0] ?? process.env.ADMIN_EMAIL;
  const password = values.password ?? positionals[1] ?? process.env.ADMIN_PASSWORD;
  const name = values.name ?? positionals[2] ?? process.env.ADMIN_NAME;
  if (!email) throw new Error(`An email is required.\n${USAGE}`);

  const config = loadConfig();
  const database = databaseForScript(config.MONGODB_URI, 'npm run create-admin');

  const conn = await mongoose
    .createConnection(database.uri, { serverSelectionTimeoutMS: 5000, autoIndex: false })
    .asPromise();
  try {
    const User = userModel(conn);
    // The unique email index is what makes "create if missing" safe; make sure it exists.
    await User.createIndexes();
    const result = await ensureAdmin(User, { email, password, name }, config.BCRYPT_COST);
    console.log(`admin ${email.trim().toLowerCase()}: ${result}`);
  } finally {
    await conn.close();
  }
}

try {
  await main();
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err instanceof Error ? err.message : err);
  process.exit(1);
}
